// One browser scenario against generated projects, run by tests/browser.rs:
//
//   node shapes.mjs <scenario>
//
// Environment (set by tests/browser.rs): CHROMIUM (the browser binary),
// CROSS_APP_BIN / CROSS_APP_DIR and SAME_APP_BIN / SAME_APP_DIR (the built
// cross-origin and same-origin projects). tests/proxy.rs runs `behind-proxy`
// with CHROMIUM and PROXY_ORIGIN (nginx in front of two instances). The
// reset-* scenarios start a real SMTP server with python3, which needs
// aiosmtpd importable (PYTHONPATH, passed on from tests/browser.rs).
//
// Chromium, the backends and the static servers are started by harness.mjs.
//
// Assertions are on what the browser stored (its cookie jar, read over CDP),
// on what DevTools reports (CORS failures), and on what the server saw (its
// request log and whether a copied session id still works) — never on the
// text of a fetch error, which is the same for every CORS failure.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  assertBothInstancesAnswered,
  assertCookie,
  assertStartupLine,
  Backend,
  callApi,
  freePort,
  LAX_DEV_COOKIE,
  launchChromium,
  localhostToLoopback,
  openPage,
  pageFetch,
  recordUpstreams,
  runScenario,
  serveBlankPage,
  serveFrontend,
  serveUnpartitionedCookie,
  sessionCookies,
  sessionStatusWithCookie,
  startSmtpServer,
  waitFor,
} from './harness.mjs';
import {
  assertRefusesTakenPort,
  build,
  localize,
  readme,
  startDevServer,
  viteApp,
  viteConfigOf,
  viteEnvOf,
} from './vite.mjs';

const PASSWORD = 'a long passphrase';

/** What the cross-site project's cookies must be: partitioned under the frontend's site. */
const PARTITIONED_COOKIE = {
  name: '__Host-sid',
  path: '/',
  httpOnly: true,
  secure: true,
  sameSite: 'None',
  partitionedFor: 'http://localhost',
  hostOnly: true,
};

/** Creates an account from outside the browser, as an attacker would for themselves. */
function signupDirectly(origin, email) {
  return postDirectly(origin, '/api/auth/signup', { email, password: PASSWORD });
}

/** POSTs `json` to `origin` + `path` from outside the browser, with `headers`; resolves with the status. */
function postDirectly(origin, path, json, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${origin}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, lookup: localhostToLoopback },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(json));
  });
}

/**
 * The cross-origin project's backend on `backendHost` and its example
 * frontend on `localhost`, each on a free port, the frontend allowlisted.
 */
async function startCrossOrigin(backendHost, env = {}) {
  const port = await freePort();
  const backendOrigin = `http://${backendHost}:${port}`;
  const frontendPort = await serveFrontend(path.join(process.env.CROSS_APP_DIR, 'frontend'), backendOrigin);
  const frontendOrigin = `http://localhost:${frontendPort}`;
  const backend = await Backend.start(process.env.CROSS_APP_BIN, {
    BIND_ADDR: `127.0.0.1:${port}`,
    PUBLIC_ORIGIN: backendOrigin,
    FRONTEND_ORIGINS: frontendOrigin,
    ...env,
  });
  return { backend, backendOrigin, frontendOrigin };
}


/**
 * Signs up, logs out, logs in, reads the session, logs out and reads 401,
 * from `page`, checking after each step the browser's jar and the server.
 */
async function signUpInAndOut({ browser, page, backend, backendOrigin, expected }) {
  const host = new URL(backendOrigin).hostname;
  const email = `ada-${randomUUID()}@example.com`;
  const jarCookie = async () => {
    const found = sessionCookies(await browser.cookies(), host);
    assert.ok(found.length <= 1, `one session cookie at most: ${JSON.stringify(found)}`);
    return found[0];
  };
  const signup = await callApi(page, 'signup', email, PASSWORD);
  assert.equal(signup.status, 201, JSON.stringify(signup));
  assert.equal(signup.body.user.email, email);
  const first = await jarCookie();
  assert.ok(first, 'signup stored a session cookie');
  assertCookie(first, expected);

  // The removal cookie must match the cookie's attributes, or the browser
  // keeps the cookie (tower-sessions' own removal cookie lacks Secure).
  assert.equal((await callApi(page, 'logout')).status, 204);
  assert.equal(await jarCookie(), undefined, 'logout removed the cookie from the jar');

  const login = await callApi(page, 'login', email, PASSWORD);
  assert.equal(login.status, 200, JSON.stringify(login));
  const cookie = await jarCookie();
  assert.ok(cookie, 'login stored a session cookie');
  assertCookie(cookie, expected);
  assert.notEqual(cookie.value, first.value, 'login issues a new session id');

  const session = await callApi(page, 'session');
  assert.equal(session.status, 200, JSON.stringify(session));
  assert.equal(session.body.user.email, email);
  assert.equal(await sessionStatusWithCookie(backendOrigin, cookie), 200, 'the server holds the session');

  // The example resource through the page's own code: a JSON POST, then a
  // PATCH and a DELETE, which are preflighted when the API is cross-origin.
  const created = await callApi(page, 'createNote', 'From the browser', 'hello');
  assert.equal(created.status, 201, JSON.stringify(created));
  const id = created.body.note.id;
  const renamed = await callApi(page, 'updateNote', id, { title: 'Renamed' });
  assert.equal(renamed.status, 200, JSON.stringify(renamed));
  const listed = await callApi(page, 'listNotes');
  assert.equal(listed.status, 200, JSON.stringify(listed));
  assert.deepEqual(listed.body.notes.map((note) => note.title), ['Renamed']);
  assert.equal((await callApi(page, 'deleteNote', id)).status, 204);

  assert.equal((await callApi(page, 'logout')).status, 204);
  assert.equal(await jarCookie(), undefined, 'logout removed the cookie from the jar');
  assert.equal((await callApi(page, 'session')).status, 401);
  assert.equal(await sessionStatusWithCookie(backendOrigin, cookie), 401, 'the server deleted the session');

  await backend.expectLatest([
    'POST /api/auth/signup 201',
    'POST /api/auth/logout 204',
    'POST /api/auth/login 200',
    'GET /api/auth/session 200',
    'GET /api/auth/session 200', // the copied cookie, replayed from outside
    'POST /api/notes 201',
    `PATCH /api/notes/${id} 200`,
    'GET /api/notes 200',
    `DELETE /api/notes/${id} 204`,
    'POST /api/auth/logout 204',
    'GET /api/auth/session 401',
    'GET /api/auth/session 401', // the copied cookie after logout
  ]);
}

// ---------------------------------------------------------------- scenarios

const scenarios = {
  /** The SPA is served by the backend itself: no CORS anywhere. */
  async 'same-origin'() {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const backend = await Backend.start(process.env.SAME_APP_BIN, {
      BIND_ADDR: `127.0.0.1:${port}`,
      PUBLIC_ORIGIN: origin,
      STATIC_DIR: path.join(process.env.SAME_APP_DIR, 'frontend'),
    });
    assertStartupLine(backend, 'same-origin', 'sid; Path=/; HttpOnly; SameSite=Lax');
    const browser = await launchChromium({ blockThirdPartyCookies: true });
    const page = await openPage(browser, `${origin}/`);
    await signUpInAndOut({ browser, page, backend, backendOrigin: origin, expected: LAX_DEV_COOKIE });
    assert.deepEqual(page.corsErrors, []);
  },

  /** localhost:F -> localhost:B: another origin, the same site. */
  async 'cross-origin-same-site'() {
    const { backend, backendOrigin, frontendOrigin } = await startCrossOrigin('localhost');
    assertStartupLine(backend, 'cross-origin same-site', 'sid; Path=/; HttpOnly; SameSite=Lax');
    const browser = await launchChromium({ blockThirdPartyCookies: true });
    const page = await openPage(browser, `${frontendOrigin}/`);
    await signUpInAndOut({ browser, page, backend, backendOrigin, expected: LAX_DEV_COOKIE });
    assert.deepEqual(page.corsErrors, []);
  },

  /** The generated README's vite.config.js, cross-origin: Vite's dev server on the frontend origin. */
  'vite-cross-origin': () => viteCrossOrigin(),
  /** The generated README's vite.config.js, same-origin: Vite's dev server proxying /api. */
  'vite-same-origin': () => viteSameOrigin(),
  /** `vite build` with that config, served by the same-origin backend. */
  'vite-build': () => viteBuild(),

  /** The account section, from two browsers signed in to one account, the SPA served by the backend. */
  'account-same-origin': () => accountFromTwoBrowsers({ crossSite: false }),
  /** The same, localhost:F -> 127.0.0.1:B with third-party cookies blocked: partitioned cookies. */
  'account-cross-site-third-party-cookies-blocked': () => accountFromTwoBrowsers({ crossSite: true }),

  /** "Forgot password?", the mailed link and the reset page, the SPA served by the backend. */
  'reset-same-origin': () => resetByMail({ crossSite: false }),
  /** The same, localhost:F -> 127.0.0.1:B with third-party cookies blocked: the reset page's cookie is partitioned. */
  'reset-cross-site-third-party-cookies-blocked': () => resetByMail({ crossSite: true }),

  /** Two instances behind nginx (tests/proxy.rs). */
  'behind-proxy': () => behindProxy(),

  /** localhost:F -> 127.0.0.1:B, third-party cookies blocked (this build's default). */
  'cross-site-third-party-cookies-blocked': () => crossSite({ blockThirdPartyCookies: true }),
  /** The same with third-party cookies allowed. */
  'cross-site-third-party-cookies-allowed': () => crossSite({ blockThirdPartyCookies: false }),

  /**
   * A page on a same-site origin that is not allowlisted: the session
   * cookie (Lax) goes along with its requests, so only CORS and the CSRF
   * layer stand between it and the victim's session.
   */
  async 'non-allowlisted-origin'() {
    const { backend, backendOrigin, frontendOrigin } = await startCrossOrigin('localhost');
    const evilOrigin = `http://localhost:${await serveBlankPage()}`;
    const browser = await launchChromium({ blockThirdPartyCookies: true });
    const host = new URL(backendOrigin).hostname;

    // The victim signs in on the real frontend; the attacker has an account too.
    const app = await openPage(browser, `${frontendOrigin}/`);
    const victim = `victim-${randomUUID()}@example.com`;
    const attacker = `attacker-${randomUUID()}@example.com`;
    assert.equal((await callApi(app, 'signup', victim, PASSWORD)).status, 201);
    assert.equal(await signupDirectly(backendOrigin, attacker), 201);
    const [before] = sessionCookies(await browser.cookies(), host);
    assert.ok(before, 'the victim has a session cookie');

    const evil = await openPage(browser, `${evilOrigin}/`);
    // 1. It cannot read the victim's session: the request is sent, with the
    // cookie, and answered, but the browser withholds the answer.
    const read = await pageFetch(evil, `${backendOrigin}/api/auth/session`, { credentials: 'include' });
    assert.equal(read.read, false, `the page read ${JSON.stringify(read)}`);
    await backend.expectLatest(['GET /api/auth/session 200']);
    // DevTools may report the failure just after the page saw it.
    await waitFor('DevTools to report the CORS failure', () => evil.corsErrors.length >= 1);
    assert.deepEqual(evil.corsErrors, [
      { request: `GET ${backendOrigin}/api/auth/session`, error: 'MissingAllowOriginHeader' },
    ]);

    // 2. Its text/plain POSTs need no preflight and carry the cookie, so they
    // reach the server: the CSRF layer must refuse them before they act.
    const forged = (path, body) =>
      pageFetch(evil, `${backendOrigin}${path}`, {
        method: 'POST',
        credentials: 'include',
        mode: 'no-cors',
        headers: { 'content-type': 'text/plain' },
        body,
      });
    await forged('/api/auth/logout', '');
    await forged('/api/auth/login', JSON.stringify({ email: attacker, password: PASSWORD }));
    await backend.expectLatest(['POST /api/auth/logout 403', 'POST /api/auth/login 403']);

    // Nothing changed: the same cookie in the jar, still the victim's session.
    const [after] = sessionCookies(await browser.cookies(), host);
    assert.equal(after?.value, before.value, 'the session cookie is unchanged');
    const session = await callApi(app, 'session');
    assert.equal(session.status, 200);
    assert.equal(session.body.user.email, victim);
    assert.equal(await sessionStatusWithCookie(backendOrigin, before), 200);
  },

  /**
   * A same-origin project has no CORS: a page on another origin can read
   * nothing, not even the health check, and its JSON writes never leave
   * the browser.
   */
  async 'no-cors'() {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const otherOrigin = `http://localhost:${await serveBlankPage()}`;
    const backend = await Backend.start(process.env.SAME_APP_BIN, {
      BIND_ADDR: `127.0.0.1:${port}`,
      PUBLIC_ORIGIN: origin,
      STATIC_DIR: path.join(process.env.SAME_APP_DIR, 'frontend'),
    });
    const browser = await launchChromium({ blockThirdPartyCookies: true });

    // A user signed in on the real, same-origin app.
    const app = await openPage(browser, `${origin}/`);
    assert.equal((await callApi(app, 'signup', `user-${randomUUID()}@example.com`, PASSWORD)).status, 201);

    const other = await openPage(browser, `${otherOrigin}/`);
    const health = await pageFetch(other, `${origin}/api/health`, {});
    const session = await pageFetch(other, `${origin}/api/auth/session`, { credentials: 'include' });
    assert.equal(health.read, false, `read ${JSON.stringify(health)}`);
    assert.equal(session.read, false, `read ${JSON.stringify(session)}`);
    await backend.expectLatest(['GET /api/health 200', 'GET /api/auth/session 200']);

    // A JSON signup needs a preflight, which nothing answers: the POST is never sent.
    const logged = backend.responses().length;
    const signup = await pageFetch(other, `${origin}/api/auth/signup`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `x-${randomUUID()}@example.com`, password: PASSWORD }),
    });
    assert.equal(signup.read, false);
    await sleep(500); // give a wrongly sent POST time to show up in the log
    assert.ok(
      !backend.responses().slice(logged).some((r) => r.startsWith('POST')),
      `a POST reached the server: ${backend.responses().slice(logged)}`,
    );

    await waitFor('DevTools to report three CORS failures', () => other.corsErrors.length >= 3);
    const errors = other.corsErrors.map(({ request, error }) => `${request} ${error}`);
    assert.deepEqual(errors.slice(0, 2), [
      `GET ${origin}/api/health MissingAllowOriginHeader`,
      `GET ${origin}/api/auth/session MissingAllowOriginHeader`,
    ]);
    assert.ok(
      errors.slice(2).some((e) => e.startsWith(`POST ${origin}/api/auth/signup Preflight`)),
      `no preflight failure reported: ${errors}`,
    );
  },
};

// ------------------------------------------------------------ Vite recipes

/**
 * The cross-origin README's recipe: Vite's dev server pinned to the origin
 * FRONTEND_ORIGINS names (`strictPort`), the page calling the API at
 * `import.meta.env.VITE_API_URL` with `credentials: 'include'`.
 */
async function viteCrossOrigin() {
  const text = readme(process.env.CROSS_APP_DIR);
  const [vitePort, backendPort] = [await freePort(), await freePort()];
  const frontendOrigin = `http://localhost:${vitePort}`;
  const backendOrigin = `http://localhost:${backendPort}`;
  // The README was rendered for frontend_origin http://localhost:5173 and
  // public_origin http://localhost:8080 (tests/browser.rs).
  const { dir } = viteApp({
    config: localize(viteConfigOf(text), { 5173: vitePort }),
    env: localize(viteEnvOf(text), { 'http://localhost:8080': backendOrigin }),
  });
  await assertRefusesTakenPort(dir, vitePort);
  const backend = await Backend.start(process.env.CROSS_APP_BIN, {
    BIND_ADDR: `127.0.0.1:${backendPort}`,
    PUBLIC_ORIGIN: backendOrigin,
    FRONTEND_ORIGINS: frontendOrigin,
  });
  assertStartupLine(backend, 'cross-origin same-site', 'sid; Path=/; HttpOnly; SameSite=Lax');
  await startDevServer(dir, frontendOrigin);
  const browser = await launchChromium({ blockThirdPartyCookies: true });
  const page = await openPage(browser, `${frontendOrigin}/`);
  await page.waitForFunction(() => window.api);
  assert.equal(await page.evaluate(() => window.apiUrl), backendOrigin, 'import.meta.env.VITE_API_URL');
  await signUpInAndOut({ browser, page, backend, backendOrigin, expected: LAX_DEV_COOKIE });
  assert.deepEqual(page.corsErrors, []);
}

/**
 * The same-origin README's recipe: Vite's dev server proxying /api to the
 * backend, and PUBLIC_ORIGIN the dev server's origin, as the README says.
 */
async function viteSameOrigin() {
  const text = readme(process.env.SAME_APP_DIR);
  const [vitePort, backendPort] = [await freePort(), await freePort()];
  const origin = `http://localhost:${vitePort}`;
  const { dir } = viteApp({
    config: localize(viteConfigOf(text), {
      5173: vitePort,
      'http://127.0.0.1:8080': `http://127.0.0.1:${backendPort}`,
    }),
  });
  const publicOrigin = text.match(/set `PUBLIC_ORIGIN=(\S+)` in `\.env`/)?.[1];
  assert.ok(publicOrigin, 'the README says what PUBLIC_ORIGIN to set');
  await assertRefusesTakenPort(dir, vitePort);
  const backend = await Backend.start(process.env.SAME_APP_BIN, {
    BIND_ADDR: `127.0.0.1:${backendPort}`,
    PUBLIC_ORIGIN: localize(publicOrigin, { 5173: vitePort }),
    STATIC_DIR: '', // the dev server serves the page
  });
  assertStartupLine(backend, 'same-origin', 'sid; Path=/; HttpOnly; SameSite=Lax');
  await startDevServer(dir, origin);
  const browser = await launchChromium({ blockThirdPartyCookies: true });
  const page = await openPage(browser, `${origin}/`);
  await page.waitForFunction(() => window.api);
  assert.equal(await page.evaluate(() => window.apiUrl), '', 'no VITE_API_URL: relative URLs');
  await signUpInAndOut({ browser, page, backend, backendOrigin: origin, expected: LAX_DEV_COOKIE });
  assert.deepEqual(page.corsErrors, []);

  // A write that carries an Origin but no Sec-Fetch-Site (a tool, an older
  // browser), through the proxy: let through because that origin is PUBLIC_ORIGIN.
  const email = `tool-${randomUUID()}@example.com`;
  const signup = await postDirectly(origin, '/api/auth/signup', { email, password: PASSWORD }, { origin });
  assert.equal(signup, 201, 'a signup with Origin: PUBLIC_ORIGIN and no Sec-Fetch-Site');
  await backend.expectLatest(['POST /api/auth/signup 201']);
}

/**
 * The same-origin README's production recipe: `vite build` with the same
 * vite.config.js, in `frontend/`, its output served by the backend from the
 * folder the README names: the hashed asset cached for a year, index.html
 * revalidated, a missing old asset a 404 rather than the page.
 */
async function viteBuild() {
  const text = readme(process.env.SAME_APP_DIR);
  // "`npm run build` writes `frontend/dist` when the Vite project is in
  // `frontend/`: point `STATIC_DIR` there"
  const said = text.match(/`npm run build` writes `([^`]+)` when the Vite project is in\s+`([^`]+)\/`: point `(\w+)` there/);
  assert.ok(said, 'the README says where the build goes and which setting serves it');
  const [, output, project, setting] = said;
  const { root, dir } = viteApp({ config: viteConfigOf(text), subdir: project });
  await build(dir);
  const assets = fs.readdirSync(path.join(root, output, 'assets'));
  const script = assets.find((file) => /^index-[\w-]+\.js$/.test(file));
  assert.ok(script, `a hashed script among ${assets}`);

  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const backend = await Backend.start(
    process.env.SAME_APP_BIN,
    { BIND_ADDR: `127.0.0.1:${port}`, PUBLIC_ORIGIN: origin, [setting]: output },
    { cwd: root }, // the setting is relative to the working directory, as in .env
  );
  assertStartupLine(backend, 'same-origin', 'sid; Path=/; HttpOnly; SameSite=Lax');
  const browser = await launchChromium({ blockThirdPartyCookies: true });
  const loaded = [];
  const page = await openPage(browser, `${origin}/`, {
    before: (page) => page.on('response', (response) => loaded.push(response)),
  });
  await page.waitForFunction(() => window.api);
  const answer = (pathname) => loaded.find((response) => new URL(response.url()).pathname === pathname);
  const index = answer('/');
  assert.equal(index.headers()['cache-control'], 'no-cache', 'index.html');
  const asset = answer(`/assets/${script}`);
  assert.ok(asset, `the page loaded /assets/${script}: ${loaded.map((r) => r.url())}`);
  assert.equal(asset.status(), 200);
  assert.match(asset.headers()['content-type'], /javascript/);
  assert.equal(asset.headers()['cache-control'], 'public, max-age=31536000, immutable', `/assets/${script}`);

  await signUpInAndOut({ browser, page, backend, backendOrigin: origin, expected: LAX_DEV_COOKIE });
  assert.deepEqual(page.corsErrors, []);

  // A tab left open on the previous build asks for its old script.
  const old = await page.evaluate(async () => {
    const response = await fetch('/assets/old-1234.js');
    return { status: response.status, type: response.headers.get('content-type') };
  });
  assert.equal(old.status, 404, JSON.stringify(old));
  assert.doesNotMatch(old.type ?? '', /text\/html/, JSON.stringify(old));
}

/**
 * Run by tests/proxy.rs: two instances of a same-origin project behind
 * nginx (round-robin) at PROXY_ORIGIN, serving the page and the API. The
 * browser signs up, logs out, logs in, reads the session and logs out; its
 * API calls must be answered by both instances (nginx's `X-Upstream`
 * response header names the one that answered), so the session works
 * whichever instance gets the request.
 */
async function behindProxy() {
  const origin = process.env.PROXY_ORIGIN;
  const browser = await launchChromium({ blockThirdPartyCookies: true });
  const page = await openPage(browser, `${origin}/`);
  const answeredBy = recordUpstreams(page, origin);
  const host = new URL(origin).hostname;
  const jarCookie = async () => sessionCookies(await browser.cookies(), host)[0];
  const email = `proxied-${randomUUID()}@example.com`;

  assert.equal((await callApi(page, 'signup', email, PASSWORD)).status, 201);
  assertCookie(await jarCookie(), LAX_DEV_COOKIE);
  assert.equal((await callApi(page, 'logout')).status, 204);
  assert.equal(await jarCookie(), undefined, 'logout removed the cookie');
  assert.equal((await callApi(page, 'login', email, PASSWORD)).status, 200);
  const cookie = await jarCookie();
  assertCookie(cookie, LAX_DEV_COOKIE);
  for (let n = 0; n < 2; n++) {
    // Twice in a row: round-robin sends them to different instances.
    const session = await callApi(page, 'session');
    assert.equal(session.status, 200, JSON.stringify(session));
    assert.equal(session.body.user.email, email);
  }
  assert.equal((await callApi(page, 'logout')).status, 204);
  for (let n = 0; n < 2; n++) {
    assert.equal((await callApi(page, 'session')).status, 401);
    // The copied cookie, replayed from outside the browser: dead on every instance.
    assert.equal(await sessionStatusWithCookie(origin, cookie), 401, 'the session was deleted');
  }
  assert.deepEqual(page.corsErrors, []);
  assertBothInstancesAnswered(answeredBy);
}

/** localhost:F -> 127.0.0.1:B: another site, so the cookie must be partitioned. */
async function crossSite({ blockThirdPartyCookies }) {
  const { backend, backendOrigin, frontendOrigin } = await startCrossOrigin('127.0.0.1');
  assertStartupLine(
    backend,
    'cross-site',
    '__Host-sid; Path=/; Secure; HttpOnly; SameSite=None; Partitioned',
  );
  const browser = await launchChromium({ blockThirdPartyCookies });
  const page = await openPage(browser, `${frontendOrigin}/`);

  // The control: is the setting really in force? An ordinary third-party
  // cookie from another site is stored only when third-party cookies are allowed.
  const control = `http://127.0.0.1:${await serveUnpartitionedCookie(frontendOrigin)}`;
  assert.equal((await pageFetch(page, `${control}/`, { credentials: 'include' })).status, 200);
  const stored = (await browser.cookies()).some((c) => c.name === 'unpartitioned');
  assert.equal(stored, !blockThirdPartyCookies, 'the third-party-cookie setting is in force');

  await signUpInAndOut({
    browser,
    page,
    backend,
    backendOrigin,
    expected: PARTITIONED_COOKIE,
  });
  assert.deepEqual(page.corsErrors, []);
}

// ------------------------------------------------------- the account section

/**
 * Device B's User-Agent: told apart from A's in the sessions list, and
 * with markup in it, which the page must show as text.
 */
const DEVICE_B_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) DeviceB/1.0 <i>tablet</i>';

/**
 * The example frontend's account section, driven through its UI from two
 * browser contexts ("devices" A and B) signed in to one account: the
 * sessions list, "Sign out" on the other device's row, changing the
 * password (which signs B out), and deleting the account. Checked on what
 * each page shows and on what the API answers each page (its own fetch,
 * `credentials: 'include'`), and, cross-site, on the cookies being the
 * partitioned ones with third-party cookies blocked in both contexts.
 */
async function accountFromTwoBrowsers({ crossSite }) {
  let backend, apiOrigin, pageOrigin, expectedCookie;
  if (crossSite) {
    ({ backend, backendOrigin: apiOrigin, frontendOrigin: pageOrigin } = await startCrossOrigin('127.0.0.1'));
    assertStartupLine(backend, 'cross-site', '__Host-sid; Path=/; Secure; HttpOnly; SameSite=None; Partitioned');
    expectedCookie = PARTITIONED_COOKIE;
  } else {
    const port = await freePort();
    apiOrigin = pageOrigin = `http://localhost:${port}`;
    backend = await Backend.start(process.env.SAME_APP_BIN, {
      BIND_ADDR: `127.0.0.1:${port}`,
      PUBLIC_ORIGIN: apiOrigin,
      STATIC_DIR: path.join(process.env.SAME_APP_DIR, 'frontend'),
    });
    assertStartupLine(backend, 'same-origin', 'sid; Path=/; HttpOnly; SameSite=Lax');
    expectedCookie = LAX_DEV_COOKIE;
  }
  const browser = await launchChromium({ blockThirdPartyCookies: true });
  const contextB = await browser.newContext({ userAgent: DEVICE_B_USER_AGENT });
  // A's account.js arrives only once the page's first session read is
  // answered, as happened now and then on a reload here: the section must
  // still show up. B loads as it comes.
  const a = await openPage(browser, `${pageOrigin}/`, { before: accountScriptAfterSessionRead });
  const b = await openPage(browser, `${pageOrigin}/`, { context: contextB });
  a.jar = browser.context;
  b.jar = contextB;
  for (const page of [a, b]) await shows(page, '#who', 'Not signed in');

  if (crossSite) {
    // The control, in both contexts: an ordinary third-party cookie is refused.
    const control = `http://127.0.0.1:${await serveUnpartitionedCookie(pageOrigin)}`;
    for (const page of [a, b]) {
      assert.equal((await pageFetch(page, `${control}/`, { credentials: 'include' })).status, 200);
      const stored = (await page.jar.cookies()).some((c) => c.name === 'unpartitioned');
      assert.equal(stored, false, 'third-party cookies are blocked in both contexts');
    }
  }

  const host = new URL(apiOrigin).hostname;
  /** The page's session cookie, checked against the shape's attributes. */
  const cookieOf = async (page) => {
    // playwright gives the partition key as a string; assertCookie reads CDP's object.
    const found = sessionCookies(
      (await page.jar.cookies()).map((c) => ({ ...c, partitionKey: c.partitionKey && { topLevelSite: c.partitionKey } })),
      host,
    );
    assert.ok(found.length <= 1, `one session cookie at most: ${JSON.stringify(found)}`);
    if (found[0]) assertCookie(found[0], expectedCookie);
    return found[0];
  };
  /** GETs `path` of the API from the page, as the page's own code would. */
  const read = async (page, path) => {
    const answer = await pageFetch(page, `${apiOrigin}${path}`, { credentials: 'include' });
    assert.ok(answer.read, `the page could not read ${path}`);
    return { status: answer.status, body: answer.body ? JSON.parse(answer.body) : null };
  };
  const sessionStatus = async (page) => (await read(page, '/api/auth/session')).status;

  const email = `two-devices-${randomUUID()}@example.com`;
  const NEW_PASSWORD = 'another long passphrase';
  const uaA = await a.evaluate(() => navigator.userAgent);
  assert.equal(await b.evaluate(() => navigator.userAgent), DEVICE_B_USER_AGENT);

  // 1. A signs up, B logs in: A's account section lists both, A's marked.
  assert.equal(await signInThroughForm(a, 'signup', email, PASSWORD), 201);
  assert.equal(await signInThroughForm(b, 'login', email, PASSWORD), 200);
  const [cookieA, cookieB] = [await cookieOf(a), await cookieOf(b)];
  assert.ok(cookieA && cookieB, 'both devices hold a session cookie');
  await a.reload();
  await shows(a, '#who', `Signed in as ${email}`);
  const rows = await sessionRows(a, 2);
  const mine = rows.filter((row) => row.includes('(this browser)'));
  assert.equal(mine.length, 1, `one row is this browser: ${JSON.stringify(rows)}`);
  assert.ok(mine[0].startsWith(`${uaA}, last seen `), `A's row shows its user agent: ${mine[0]}`);
  const other = rows.find((row) => !row.includes('(this browser)'));
  assert.ok(other.startsWith(`${DEVICE_B_USER_AGENT}, last seen `), `B's row shows its user agent: ${other}`);
  assert.equal(await a.locator('#sessions li i').count(), 0, 'the user agent is shown as text, not HTML');
  // The same from the API: handles that are not the cookies' ids.
  const listed = await read(a, '/api/auth/sessions');
  assert.equal(listed.status, 200, JSON.stringify(listed));
  const byAgent = Object.fromEntries(listed.body.sessions.map((s) => [s.user_agent, s]));
  assert.equal(listed.body.sessions.length, 2, JSON.stringify(listed.body));
  assert.equal(byAgent[uaA]?.current, true, JSON.stringify(listed.body));
  assert.equal(byAgent[DEVICE_B_USER_AGENT]?.current, false, JSON.stringify(listed.body));
  const handleB = byAgent[DEVICE_B_USER_AGENT].id;
  for (const cookie of [cookieA, cookieB]) {
    const named = listed.body.sessions.some((s) => s.id === cookie.value || cookie.value.includes(s.id));
    assert.ok(!named, `a session's id gives its cookie away: ${JSON.stringify(listed.body)}`);
  }

  // 2. "Sign out" on B's row ends B's session at once; A stays signed in.
  const ended = await answerTo(a, 'DELETE', '/api/auth/sessions/', () =>
    a.locator('#sessions li').filter({ hasNotText: '(this browser)' }).getByRole('button', { name: 'Sign out' }).click(),
  );
  assert.equal(ended.status(), 204);
  assert.equal(new URL(ended.url()).pathname, `/api/auth/sessions/${encodeURIComponent(handleB)}`, "B's handle");
  assert.equal(await sessionStatus(b), 401, "B's next session read");
  await b.reload();
  await shows(b, '#who', 'Not signed in');
  assert.equal(await b.locator('#account-section').isHidden(), true);
  assert.equal(await sessionStatus(a), 200, 'A is still signed in');
  await shows(a, '#who', `Signed in as ${email}`);
  const [left] = await sessionRows(a, 1);
  assert.ok(left.startsWith(`${uaA}, last seen `) && left.includes('(this browser)'), left);

  // 3. B signs in again; A changes the password; B is signed out, and only
  // the new password signs it in.
  assert.equal(await signInThroughForm(b, 'login', email, PASSWORD), 200);
  await a.reload();
  await sessionRows(a, 2);
  await a.fill('#current-password', PASSWORD);
  await a.fill('#new-password', NEW_PASSWORD);
  const changed = await answerTo(a, 'POST', '/api/auth/password', () => a.click('#change-password button[type="submit"]'));
  assert.equal(changed.status(), 200);
  const [kept] = await sessionRows(a, 1);
  assert.ok(kept.includes('(this browser)'), kept);
  assert.equal(await a.inputValue('#current-password'), '', 'the form was reset');
  assert.equal(await sessionStatus(a), 200, 'A is still signed in');
  assert.notEqual((await cookieOf(a)).value, cookieA.value, "A's session id was rotated");
  assert.equal(await sessionStatus(b), 401, 'B was signed out by the password change');
  await b.reload();
  await shows(b, '#who', 'Not signed in');
  assert.equal(await signInThroughForm(b, 'login', email, PASSWORD), 401, 'the old password');
  await shows(b, '#who', 'Not signed in');
  assert.match(await b.textContent('#last'), /^401 /);
  assert.equal(await signInThroughForm(b, 'login', email, NEW_PASSWORD), 200, 'the new password');
  await shows(b, '#who', `Signed in as ${email}`);
  assert.equal(await sessionStatus(b), 200);

  // 4. A deletes the account: both are signed out.
  await a.fill('#delete-password', NEW_PASSWORD);
  const deleted = await answerTo(a, 'DELETE', '/api/auth/account', () => a.click('#delete-account button[type="submit"]'));
  assert.equal(deleted.status(), 204);
  await shows(a, '#who', 'Not signed in');
  await waitFor("A's account section to hide", () => a.locator('#account-section').isHidden());
  assert.equal(await sessionStatus(a), 401);
  assert.equal(await cookieOf(a), undefined, "A's cookie was removed");
  assert.equal(await sessionStatus(b), 401, "B's session ended with the account");
  await b.reload();
  await shows(b, '#who', 'Not signed in');
  assert.equal(await signInThroughForm(b, 'login', email, NEW_PASSWORD), 401, 'the account is gone');

  for (const expected of [
    `DELETE /api/auth/sessions/${encodeURIComponent(handleB)} 204`,
    'POST /api/auth/password 200',
    'DELETE /api/auth/account 204',
  ]) {
    assert.ok(backend.responses().includes(expected), `the server answered ${expected}`);
  }
  assert.deepEqual(a.corsErrors, []);
  assert.deepEqual(b.corsErrors, []);
}

// ------------------------------------------------- password reset by mail

/** The sender the backend is given; its name starts every subject. */
const MAIL_FROM = 'Reset Test <no-reply@example.com>';

/**
 * "Forgot password?" through the example frontend, with a real SMTP server
 * (aiosmtpd): device B is signed in; device A, signed out, asks for a link
 * by the email field, opens the link from the mail the SMTP server received,
 * and sets a new password on frontend/reset-password.html, which signs A in
 * and ends every other session. Checked on what the pages show, on what the
 * API answers each page, on the mail itself, and, cross-site, on A's cookie
 * being the partitioned one its app's requests carry, with third-party
 * cookies blocked in both contexts.
 */
async function resetByMail({ crossSite }) {
  const smtp = await startSmtpServer();
  const mailEnv = { SMTP_URL: smtp.smtpUrl, MAIL_FROM };
  let backend, apiOrigin, pageOrigin, expectedCookie;
  if (crossSite) {
    ({ backend, backendOrigin: apiOrigin, frontendOrigin: pageOrigin } = await startCrossOrigin('127.0.0.1', mailEnv));
    assertStartupLine(backend, 'cross-site', '__Host-sid; Path=/; Secure; HttpOnly; SameSite=None; Partitioned');
    expectedCookie = PARTITIONED_COOKIE;
  } else {
    const port = await freePort();
    apiOrigin = pageOrigin = `http://localhost:${port}`;
    backend = await Backend.start(process.env.SAME_APP_BIN, {
      BIND_ADDR: `127.0.0.1:${port}`,
      PUBLIC_ORIGIN: apiOrigin,
      STATIC_DIR: path.join(process.env.SAME_APP_DIR, 'frontend'),
      ...mailEnv,
    });
    assertStartupLine(backend, 'same-origin', 'sid; Path=/; HttpOnly; SameSite=Lax');
    expectedCookie = LAX_DEV_COOKIE;
  }
  const browser = await launchChromium({ blockThirdPartyCookies: true });
  const contextB = await browser.newContext();
  const a = await openPage(browser, `${pageOrigin}/`);
  const b = await openPage(browser, `${pageOrigin}/`, { context: contextB });
  a.jar = browser.context;
  b.jar = contextB;
  for (const page of [a, b]) await shows(page, '#who', 'Not signed in');

  if (crossSite) {
    // The control, in both contexts: an ordinary third-party cookie is refused.
    const control = `http://127.0.0.1:${await serveUnpartitionedCookie(pageOrigin)}`;
    for (const page of [a, b]) {
      assert.equal((await pageFetch(page, `${control}/`, { credentials: 'include' })).status, 200);
      const stored = (await page.jar.cookies()).some((c) => c.name === 'unpartitioned');
      assert.equal(stored, false, 'third-party cookies are blocked in both contexts');
    }
  }

  const host = new URL(apiOrigin).hostname;
  /** The page's session cookie, checked against the shape's attributes. */
  const cookieOf = async (page) => {
    const found = sessionCookies(
      (await page.jar.cookies()).map((c) => ({ ...c, partitionKey: c.partitionKey && { topLevelSite: c.partitionKey } })),
      host,
    );
    assert.ok(found.length <= 1, `one session cookie at most: ${JSON.stringify(found)}`);
    if (found[0]) assertCookie(found[0], expectedCookie);
    return found[0];
  };
  const sessionStatus = async (page) => {
    const answer = await pageFetch(page, `${apiOrigin}/api/auth/session`, { credentials: 'include' });
    assert.ok(answer.read, 'the page could not read its session');
    return answer.status;
  };

  const email = `reset-${randomUUID()}@example.com`;
  const NEW_PASSWORD = 'a brand new passphrase';

  // 1. B signs up and stays signed in.
  assert.equal(await signInThroughForm(b, 'signup', email, PASSWORD), 201);
  await shows(b, '#who', `Signed in as ${email}`);
  const cookieB = await cookieOf(b);
  assert.ok(cookieB, 'B holds a session cookie');

  /** The one link a mail carries, and its token. */
  const linkIn = (mail) => {
    const links = mail.body.match(/^\S*#token=\S*$/gm) ?? [];
    assert.equal(links.length, 1, `one link in the mail:\n${mail.body}`);
    const [link] = links;
    const token = link.slice(link.indexOf('#token=') + '#token='.length);
    assert.match(token, /^[0-9a-f]{64}$/, `the token in ${link}`);
    return { link, token };
  };

  // 1b. The signup mail's link verifies the address, opened in B's browser.
  const [welcome] = await smtp.waitForMail(email);
  assert.equal(welcome.subject, 'Reset Test: confirm your address');
  await waitFor('B to show the verification reminder', () => b.locator('#verification').isVisible());
  const verification = linkIn(welcome);
  assert.equal(verification.link, `${pageOrigin}/verify-email.html#token=${verification.token}`);
  const verifyPage = await openPage(browser, verification.link, { context: contextB });
  await shows(verifyPage, '#outcome', `Thank you: ${email} is verified.`);
  assert.equal(await verifyPage.evaluate(() => location.hash), '', 'the token left the address bar');
  const verified = await pageFetch(b, `${apiOrigin}/api/auth/session`, { credentials: 'include' });
  assert.equal(JSON.parse(verified.body).user.email_verified, true, "B's session has the verified address at once");
  await b.reload();
  await shows(b, '#who', `Signed in as ${email}`);
  assert.equal(await b.locator('#verification').isHidden(), true, 'the reminder is gone');

  // 2. A, signed out, types the address and presses "Forgot password?".
  await a.fill('#email', email);
  const asked = await answerTo(a, 'POST', '/api/auth/password/forgot', () => a.click('#forgot'));
  assert.equal(asked.status(), 202);
  await waitFor('the page to show the answer', async () => (await a.textContent('#last')).startsWith('202 '));
  assert.equal(await cookieOf(a), undefined, 'asking signs nobody in');

  // 3. The mail, as the SMTP server received it (after the signup's).
  const mail = (await smtp.waitForMail(email, 2))[1];
  assert.equal(mail.from, 'no-reply@example.com', 'the envelope sender');
  assert.deepEqual(mail.to, [email]);
  assert.equal(mail.subject, 'Reset Test: reset your password');
  const { link, token } = linkIn(mail);
  assert.equal(link, `${pageOrigin}/reset-password.html#token=${token}`, 'the link goes to the reset page');

  // 4. A opens the link exactly as it is in the mail: the page takes the
  // token out of the address bar, and the new password signs A in.
  const reset = await openPage(browser, link);
  const address = await reset.evaluate(() => ({ hash: location.hash, href: location.href }));
  assert.deepEqual(address, { hash: '', href: `${pageOrigin}/reset-password.html` }, 'the token left the address bar');
  await reset.fill('#password', NEW_PASSWORD);
  const done = await answerTo(reset, 'POST', '/api/auth/password/reset', () =>
    reset.click('#reset button[type="submit"]'),
  );
  assert.equal(done.status(), 200);
  await shows(reset, '#outcome', `Done: signed in as ${email}. Every other session has ended.`);
  assert.equal(await reset.locator('#reset').isHidden(), true, 'the form is gone');
  const cookieA = await cookieOf(a);
  assert.ok(cookieA, "the reset stored a session cookie in A's browser");
  assert.notEqual(cookieA.value, cookieB.value);
  assert.equal(await sessionStatusWithCookie(apiOrigin, cookieA), 200, 'the server holds the new session');

  // 5. A's app (through the page's "Back to the app" link) is signed in,
  // its requests carrying that very cookie.
  const [read] = await Promise.all([
    reset.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/session' && r.request().method() === 'GET'),
    reset.click('text=Back to the app'),
  ]);
  assert.equal(read.status(), 200);
  const sent = (await read.request().allHeaders()).cookie ?? '';
  assert.deepEqual(
    sent.split(/;\s*/).filter((c) => /^(__Host-)?sid=/.test(c)),
    [`${cookieA.name}=${cookieA.value}`],
    `the cookie the app's session read carried: ${sent}`,
  );
  await shows(reset, '#who', `Signed in as ${email}`);
  await a.reload();
  await shows(a, '#who', `Signed in as ${email}`);

  // 6. B was signed out; only the new password signs in.
  assert.equal(await sessionStatus(b), 401, "B's next session read");
  assert.equal(await sessionStatusWithCookie(apiOrigin, cookieB), 401, "the server ended B's session");
  await b.reload();
  await shows(b, '#who', 'Not signed in');
  assert.equal(await signInThroughForm(b, 'login', email, PASSWORD), 401, 'the old password');
  await shows(b, '#who', 'Not signed in');
  assert.equal(await signInThroughForm(b, 'login', email, NEW_PASSWORD), 200, 'the new password');
  await shows(b, '#who', `Signed in as ${email}`);

  // 7. The same link again: refused, and nobody is signed out by it.
  const again = await openPage(browser, link);
  assert.equal(await again.evaluate(() => location.hash), '');
  await again.fill('#password', 'yet another passphrase');
  const refused = await answerTo(again, 'POST', '/api/auth/password/reset', () =>
    again.click('#reset button[type="submit"]'),
  );
  assert.equal(refused.status(), 400);
  assert.equal((await refused.json()).error.code, 'invalid_token');
  await shows(again, '#outcome', 'this link is unknown, expired or used already: ask for a new one');
  assert.equal(await sessionStatus(a), 200, 'A is still signed in');
  assert.equal(await sessionStatus(b), 200, 'B is still signed in');
  assert.equal(await signInThroughForm(b, 'login', email, 'yet another passphrase'), 401, 'the refused password was not set');

  assert.equal(smtp.received().length, 2, 'two mails in all: the welcome and the reset');
  for (const expected of ['POST /api/auth/password/forgot 202', 'POST /api/auth/password/reset 200', 'POST /api/auth/password/reset 400']) {
    assert.ok(backend.responses().includes(expected), `the server answered ${expected}`);
  }
  assert.ok(!backend.output().includes(token), "the token is nowhere in the backend's log");
  for (const page of [a, b, reset, again]) assert.deepEqual(page.corsErrors, []);
}

/**
 * Fills the example's email and password and presses "Sign up" or "Log
 * in" (`action`); resolves with the status of the API's answer, once the
 * page has asked who is signed in after it.
 */
async function signInThroughForm(page, action, email, password) {
  await page.fill('#email', email);
  await page.fill('#password', password);
  const [answer, refreshed] = await Promise.all([
    answerTo(page, 'POST', `/api/auth/${action}`, () => page.click(`#credentials button[value="${action}"]`)),
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/session' && r.request().method() === 'GET'),
  ]);
  assert.ok(refreshed, 'the page asked who is signed in');
  return answer.status();
}

/**
 * Holds back every load of the page's account.js until the page has had
 * an answer to `GET /api/auth/session` (app.js asks as soon as it runs).
 */
function accountScriptAfterSessionRead(page) {
  return page.route('**/account.js', async (route) => {
    await page
      .waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/session', { timeout: 5_000 })
      .catch(() => {}); // the scenario's own checks will say what went wrong
    await route.continue();
  });
}

/** Runs `act` and resolves with the page's response to `METHOD` on a path starting with `prefix`. */
async function answerTo(page, method, prefix, act) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname.startsWith(prefix)),
    act(),
  ]);
  return response;
}

/** Waits until `selector`'s text in `page` is `expected`. */
async function shows(page, selector, expected) {
  let seen;
  try {
    await waitFor(`${selector} to show ${JSON.stringify(expected)}`, async () => {
      seen = await page.textContent(selector);
      return seen === expected;
    });
  } catch (error) {
    throw new Error(`${error.message}; it shows ${JSON.stringify(seen)}`);
  }
}

/** Waits until the page's account section is shown with `count` sessions; their rows' text. */
async function sessionRows(page, count) {
  let seen;
  try {
    await waitFor(`${count} sessions in the account section`, async () => {
      seen = await page.locator('#sessions li').allTextContents();
      return seen.length === count && (await page.locator('#account-section').isVisible());
    });
  } catch (error) {
    const hidden = await page.locator('#account-section').isHidden();
    const last = await page.textContent('#last');
    throw new Error(`${error.message}; it shows ${JSON.stringify(seen)}, hidden: ${hidden}, last answer: ${last}`);
  }
  return seen;
}

// --------------------------------------------------------------------- main

await runScenario(scenarios);
