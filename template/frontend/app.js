// A minimal frontend for this backend: plain JavaScript, no build step.
//
// Every call sends `credentials: 'include'`, which is what lets the browser
// send and store the session cookie on a cross-origin API; on the same
// origin it changes nothing. The session lives in an HttpOnly cookie that
// this code never sees: the server's answers say who is signed in.

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
  signup: (email, password) => call('POST', '/api/auth/signup', { email, password }),
  login: (email, password) => call('POST', '/api/auth/login', { email, password }),
  session: () => call('GET', '/api/auth/session'),
  logout: () => call('POST', '/api/auth/logout'),
  // Mails a link to reset-password.html, if an account has this address.
  forgotPassword: (email) => call('POST', '/api/auth/password/forgot', { email }),
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
    who.textContent = user ? `Signed in as ${user.email}` : 'Not signed in';
    known = { user };
    document.dispatchEvent(new CustomEvent('session', { detail: { user } }));
  } catch (error) {
    // A network or CORS failure: the browser gives page code no details.
    who.textContent = `Cannot reach the API at ${apiOrigin || location.origin} (see the console)`;
  }
}

document.querySelector('#credentials').addEventListener('submit', async (event) => {
  event.preventDefault();
  const email = document.querySelector('#email').value;
  const password = document.querySelector('#password').value;
  const action = event.submitter?.value === 'signup' ? api.signup : api.login;
  show(await action(email, password));
  await refresh();
});

document.querySelector('#forgot').addEventListener('click', async () => {
  show(await api.forgotPassword(document.querySelector('#email').value));
});

document.querySelector('#logout').addEventListener('click', async () => {
  show(await api.logout());
  await refresh();
});

// Another part of the page (the account section) signed this browser out.
document.addEventListener('signed-out', refresh);

refresh();
