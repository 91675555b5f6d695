// The signed-in user's account: whether its address is verified (password
// projects), every browser signed in to it, with a button to sign any of
// them out, changing the password (password projects; every other browser is
// signed out) and the address (password projects; confirmed by a mailed
// link), and deleting the account. Delete this
// file, its <script> tag and the account <section> in index.html to remove
// it.

import { api, call, onSession, show } from './app.js';

Object.assign(api, {
  changePassword: (currentPassword, password) =>
    call('POST', '/api/auth/password', { current_password: currentPassword, password }),
  changeEmail: (currentPassword, email) =>
    call('POST', '/api/auth/email', { current_password: currentPassword, email }),
  resendVerification: () => call('POST', '/api/auth/email/verification'),
  listSessions: () => call('GET', '/api/auth/sessions'),
  endSession: (id) => call('DELETE', `/api/auth/sessions/${encodeURIComponent(id)}`),
  // Password projects confirm with the password; a hosted login needs none.
  deleteAccount: (password) =>
    call('DELETE', '/api/auth/account', password === undefined ? undefined : { password }),
});

const section = document.querySelector('#account-section');
const list = document.querySelector('#sessions');

/** Shows the account's sessions, the most recently active first. */
async function load() {
  const result = await api.listSessions();
  if (result.status !== 200) {
    show(result);
    return;
  }
  list.replaceChildren();
  for (const session of result.body.sessions) {
    const item = document.createElement('li');
    const seen = new Date(session.last_seen_at).toLocaleString();
    // Text, never HTML: the user agent is whatever the browser sent.
    item.textContent = `${session.user_agent ?? 'Unknown browser'}, last seen ${seen}`;
    if (session.current) item.textContent += ' (this browser)';
    const end = document.createElement('button');
    end.type = 'button';
    end.textContent = 'Sign out';
    end.addEventListener('click', async () => {
      show(await api.endSession(session.id));
      // Signing this browser out changes who is signed in; any other only the list.
      if (session.current) document.dispatchEvent(new Event('signed-out'));
      else await load();
    });
    item.append(' ', end);
    list.append(item);
  }
}

// Password projects: whether the address is verified (a hosted login's
// users have no such field, and the page no such paragraph).
const verification = document.querySelector('#verification');

onSession((user) => {
  section.hidden = !user;
  if (verification) verification.hidden = !user || user.email_verified !== false;
  if (user) load();
});

document.querySelector('#resend-verification')?.addEventListener('click', async () => {
  show(await api.resendVerification());
});

// Only password projects have the form.
document.querySelector('#change-password')?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = await api.changePassword(
    document.querySelector('#current-password').value,
    document.querySelector('#new-password').value,
  );
  show(result);
  if (result.status === 200) {
    event.target.reset();
    await load(); // every other session has ended
  }
});

// Only password projects have the form. Nothing changes until the link
// mailed to the new address is opened (confirm-email.html).
document.querySelector('#change-email')?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = await api.changeEmail(
    document.querySelector('#change-email-password').value,
    document.querySelector('#new-email').value,
  );
  show(result);
  if (result.status === 202) event.target.reset();
});

document.querySelector('#delete-account').addEventListener('submit', async (event) => {
  event.preventDefault();
  const password = document.querySelector('#delete-password');
  const result = await api.deleteAccount(password ? password.value : undefined);
  show(result);
  if (result.status === 204) {
    event.target.reset();
    document.dispatchEvent(new Event('signed-out'));
  }
});
