// A minimal frontend for this backend: plain JavaScript, no build step.
//
// Every call sends `credentials: 'include'`, which is what lets the browser
// send and store the session cookie on a cross-origin API; on the same
// origin it changes nothing. The session lives in an HttpOnly cookie that
// this code never sees: the server's answers say who is signed in.
//
// Signing in goes through the identity provider's own login page. The API
// gives the provider's URL; the provider sends the browser back to this page
// with `code` and `state` (or `error`) in the query string, and this page
// relays them to the API, which checks them against this browser's session,
// talks to the provider, and signs the session in. The browser never holds
// a token. The query string is then removed from the address bar and the
// history, so the one-time code is not left behind in either.

const apiOrigin = document.querySelector('meta[name="api-origin"]').content;

/** Calls the API and returns `{ status, body }`; `body` is parsed JSON or null. */
export async function call(method, path, json) {
  const response = await fetch(apiOrigin + path, {
    method,
    credentials: 'include',
    headers: json === undefined ? {} : { 'Content-Type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export const api = {
  /** Starts a sign-in; the answer's `authorization_url` is the provider's login page. */
  oidcStart: (returnTo) => call('POST', '/api/auth/oidc/start', returnTo ? { return_to: returnTo } : {}),
  /** Relays the provider's answer (the query parameters it sent back). */
  oidcCallback: (params) => call('POST', '/api/auth/oidc/callback', params),
  session: () => call('GET', '/api/auth/session'),
  logout: () => call('POST', '/api/auth/logout'),
};
// For the browser console and the end-to-end tests.
window.api = api;

const who = document.querySelector('#who');
const last = document.querySelector('#last');

/** Shows the last answer of the API. */
export function show(result) {
  last.textContent = `${result.status} ${JSON.stringify(result.body, null, 2) ?? ''}`;
}

/** Who the last session read said is signed in: `{ user }`, `user` null if nobody; undefined before it. */
let known;

/**
 * Calls `listener(user)` each time the page learns who is signed in
 * (`user` is null if nobody), and at once if it knows already. The other
 * parts of the page use this rather than a `session` event listener of
 * their own: their scripts run after this one, and the first answer may
 * come before they do (seen on a reload, account.js still loading), too
 * late for a listener added then.
 */
export function onSession(listener) {
  document.addEventListener('session', ({ detail }) => listener(detail.user));
  if (known) listener(known.user);
}

/**
 * Asks the API who is signed in, shows it, and tells the rest of the page
 * with a `session` event (`detail.user` is the user, or null).
 */
async function refresh() {
  try {
    const result = await api.session();
    const user = result.status === 200 ? result.body.user : null;
    who.textContent = user ? `Signed in as ${user.email ?? user.name ?? `user ${user.id}`}` : 'Not signed in';
    known = { user };
    document.dispatchEvent(new CustomEvent('session', { detail: { user } }));
  } catch (error) {
    // A network or CORS failure: the browser gives page code no details.
    who.textContent = `Cannot reach the API at ${apiOrigin || location.origin} (see the console)`;
  }
}

/**
 * If the provider has just sent the browser back here, relays its answer
 * to the API and takes the parameters out of the address bar.
 */
async function finishSignIn() {
  const query = new URLSearchParams(location.search);
  if (!query.has('state') || !(query.has('code') || query.has('error'))) {
    return;
  }
  const params = {};
  for (const name of ['code', 'state', 'error', 'error_description', 'iss']) {
    if (query.has(name)) {
      params[name] = query.get(name);
    }
  }
  let returnTo = location.pathname;
  try {
    const result = await api.oidcCallback(params);
    show(result);
    if (result.status === 200 && result.body.return_to) {
      returnTo = result.body.return_to;
    }
  } finally {
    // Replaces this history entry: Back does not relay the used code again.
    history.replaceState(null, '', returnTo);
  }
}

document.querySelector('#sign-in').addEventListener('click', async () => {
  const result = await api.oidcStart(location.pathname);
  if (result.status === 200) {
    location.assign(result.body.authorization_url);
  } else {
    show(result);
  }
});

document.querySelector('#logout').addEventListener('click', async () => {
  const result = await api.logout();
  show(result);
  if (result.status === 200 && result.body?.end_session_url) {
    // Ends the session at the provider too; it sends the browser back to
    // OIDC_POST_LOGOUT_REDIRECT_URL, if one is registered.
    location.assign(result.body.end_session_url);
    return;
  }
  await refresh();
});

// Another part of the page (the account section) signed this browser out.
document.addEventListener('signed-out', refresh);

finishSignIn().catch((error) => console.error(error)).finally(refresh);
