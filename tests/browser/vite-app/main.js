// The smallest Vite app for tests/browser/vite.mjs: what a framework app's
// API module does, as the generated README says to write it. Cross-origin,
// the API's origin comes from VITE_API_URL (.env.development); same-origin
// it is unset and the URLs are relative (the dev server's proxy, or the
// backend serving the build).

const apiUrl = import.meta.env.VITE_API_URL ?? '';

/** Calls the API and returns `{ status, body }`; `body` is parsed JSON or null. */
async function call(method, path, json) {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    credentials: 'include',
    headers: json === undefined ? {} : { 'Content-Type': 'application/json' },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

window.api = {
  signup: (email, password) => call('POST', '/api/auth/signup', { email, password }),
  login: (email, password) => call('POST', '/api/auth/login', { email, password }),
  session: () => call('GET', '/api/auth/session'),
  logout: () => call('POST', '/api/auth/logout'),
  listNotes: () => call('GET', '/api/notes'),
  createNote: (title, body) => call('POST', '/api/notes', { title, body }),
  updateNote: (id, changes) => call('PATCH', `/api/notes/${id}`, changes),
  deleteNote: (id) => call('DELETE', `/api/notes/${id}`),
};
// What the build or the dev server put in place of import.meta.env.VITE_API_URL.
window.apiUrl = apiUrl;

