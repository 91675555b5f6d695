// What the pages a mail links to share (verify-email.html,
// confirm-email.html, reset-password.html). The link carries its token in
// the fragment (#token=...), which browsers never send to a server nor put
// in a Referer. The page takes it out of the address bar and history at
// once, and relays it to the API with fetch and credentials, so that in the
// cross-site shape any cookie the answer sets is the one the app's own
// requests carry.

const apiOrigin = document.querySelector('meta[name="api-origin"]').content;

/** The link's token (null if it has none), removed from the address bar. */
export function takeToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  history.replaceState(null, '', location.pathname);
  return token;
}

/** POSTs `json` to the API's `path`: `{ ok, body }`, body the parsed answer. */
export async function relay(path, json) {
  const response = await fetch(apiOrigin + path, {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(json),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    // Not the API's JSON: a proxy's error page, say.
    body = { error: { message: `The server answered ${response.status}: try again later.` } };
  }
  return { ok: response.ok, body };
}
