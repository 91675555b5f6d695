// One browser scenario against generated projects, run by tests/browser.rs:
//
//   node shapes.mjs <scenario>
//
// Environment (set by tests/browser.rs): CHROMIUM (the browser binary),
// CROSS_APP_BIN / CROSS_APP_DIR and SAME_APP_BIN / SAME_APP_DIR (the built
// cross-origin and same-origin projects). tests/proxy.rs runs `behind-proxy`
// with CHROMIUM and PROXY_ORIGIN (nginx in front of two instances).
//
// Chromium is launched here with exactly the flags measured on this machine
// (see DESIGN.md) and a fresh profile; playwright-core only connects to it
// over CDP. Its own launcher would add switches of its own, some of which
// change storage and cookie behaviour, the very thing under test.
//
// Assertions are on what the browser stored (its cookie jar, read over CDP),
// on what DevTools reports (CORS failures), and on what the server saw (its
// request log and whether a copied session id still works) — never on the
// text of a fetch error, which is the same for every CORS failure.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const PATIENCE_MS = 30_000;
const PASSWORD = 'a long passphrase';

// ---------------------------------------------------------------- processes

const cleanups = [];
const onExit = (fn) => cleanups.push(fn);

async function runCleanups() {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (error) {
      console.error('cleanup failed:', error);
    }
  }
}

function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // Retries: a process that just exited may still have files being closed.
  onExit(() => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return dir;
}

/** A port that was free a moment ago (the backend must know its origin before it binds). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits until `predicate()` is truthy, failing with `what` after PATIENCE_MS. */
async function waitFor(what, predicate) {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// ------------------------------------------------------------------ backend

// The access log's line for each response (the project's telemetry.rs), e.g.
// `finished processing request method=POST path=/api/auth/login status=200 latency_us=3021`
const RESPONSE_LINE = /finished processing request method=(\S+) path=(\S+) status=(\d+)/;

class Backend {
  /** Starts a generated project's binary with `env` in an empty folder (no .env). */
  static async start(bin, env) {
    const cwd = tempDir('backend-');
    const child = spawn(bin, [], {
      cwd,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: `sqlite://${path.join(cwd, 'app.db')}`,
        RUST_LOG: 'info,tower_http=info',
        NO_COLOR: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const backend = new Backend(child);
    onExit(() => backend.stop());
    await waitFor(`the backend to listen (output so far:\n${backend.output()})`, () => {
      if (child.exitCode !== null) {
        throw new Error(`backend exited with ${child.exitCode}:\n${backend.output()}`);
      }
      return backend.lines.some((line) => line.includes('listening'));
    });
    return backend;
  }

  constructor(child) {
    this.child = child;
    this.lines = [];
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop();
        // Strip colours, in case the subscriber ignores NO_COLOR.
        this.lines.push(...parts.map((line) => line.replace(/\x1b\[[0-9;]*m/g, '')));
      });
    }
  }

  output() {
    return this.lines.join('\n');
  }

  /** The start-up line with the deployment shape and the cookie. */
  startupLine() {
    return this.lines.find((line) => line.includes('listening'));
  }

  /** `METHOD /path STATUS` for every response logged so far (CORS answers preflights before the log). */
  responses() {
    return this.lines
      .map((line) => line.match(RESPONSE_LINE))
      .filter(Boolean)
      .map(([, method, uri, status]) => `${method} ${uri} ${status}`);
  }

  /**
   * Asserts that the last responses logged are `expected`, in order. They
   * are logged just after being sent, so this waits a little for them.
   */
  async expectLatest(expected) {
    const latest = () => this.responses().slice(-expected.length);
    const deadline = Date.now() + 5_000;
    while (JSON.stringify(latest()) !== JSON.stringify(expected) && Date.now() < deadline) {
      await sleep(50);
    }
    assert.deepEqual(latest(), expected, 'what the server answered');
  }

  async stop() {
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      await new Promise((resolve) => this.child.once('exit', resolve));
    }
  }
}

/** Replays a copied cookie from outside the browser: does the server still hold that session? */
function sessionStatusWithCookie(origin, cookie) {
  return new Promise((resolve, reject) => {
    const request = http.get(
      `${origin}/api/auth/session`,
      { headers: { cookie: `${cookie.name}=${cookie.value}` }, lookup: localhostToLoopback },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    request.on('error', reject);
  });
}

/** Node may resolve localhost to ::1; every server here listens on 127.0.0.1. */
function localhostToLoopback(hostname, options, callback) {
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}

/** Creates an account from outside the browser, as an attacker would for themselves. */
function signupDirectly(origin, email) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${origin}/api/auth/signup`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, lookup: localhostToLoopback },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify({ email, password: PASSWORD }));
  });
}

// ----------------------------------------------------------- static servers

/**
 * Serves `dir` like a frontend dev server would, with the example's
 * `api-origin` meta tag pointing at `apiOrigin`. Listens on a fresh port.
 */
async function serveFrontend(dir, apiOrigin) {
  const server = http.createServer((request, response) => {
    const name = new URL(request.url, 'http://x').pathname.replace(/^\/$/, '/index.html');
    const file = path.join(dir, path.normalize(name));
    if (!file.startsWith(dir) || !fs.existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    let body = fs.readFileSync(file);
    if (file.endsWith('.html')) {
      body = body
        .toString()
        .replace(/(<meta name="api-origin" content=")[^"]*(")/, `$1${apiOrigin}$2`);
    }
    const type = file.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8';
    response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  return listen(server);
}

/**
 * The cross-origin project's backend on `backendHost` and its example
 * frontend on `localhost`, each on a free port, the frontend allowlisted.
 */
async function startCrossOrigin(backendHost) {
  const port = await freePort();
  const backendOrigin = `http://${backendHost}:${port}`;
  const frontendPort = await serveFrontend(path.join(process.env.CROSS_APP_DIR, 'frontend'), backendOrigin);
  const frontendOrigin = `http://localhost:${frontendPort}`;
  const backend = await Backend.start(process.env.CROSS_APP_BIN, {
    BIND_ADDR: `127.0.0.1:${port}`,
    PUBLIC_ORIGIN: backendOrigin,
    FRONTEND_ORIGINS: frontendOrigin,
  });
  return { backend, backendOrigin, frontendOrigin };
}

/** A bare page for code that runs on some origin. */
async function serveBlankPage() {
  const server = http.createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>page</title>');
  });
  return listen(server);
}

/**
 * The control for the third-party-cookie setting: a server on another site
 * that sets an ordinary (unpartitioned) `SameSite=None; Secure` cookie with
 * credentialed CORS for `frontendOrigin`. Blocking third-party cookies must
 * refuse exactly this cookie.
 */
async function serveUnpartitionedCookie(frontendOrigin) {
  const server = http.createServer((request, response) => {
    response
      .writeHead(200, {
        'access-control-allow-origin': frontendOrigin,
        'access-control-allow-credentials': 'true',
        'set-cookie': 'unpartitioned=1; Path=/; Secure; HttpOnly; SameSite=None',
        'content-type': 'text/plain',
      })
      .end('ok');
  });
  return listen(server);
}

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  onExit(() => new Promise((resolve) => server.close(resolve)));
  return server.address().port;
}

// ------------------------------------------------------------------ browser

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches Chromium with a fresh profile whose third-party-cookie setting is
 * `profile.cookie_controls_mode` (1 blocks them, 0 allows them).
 */
async function launchChromium({ blockThirdPartyCookies }) {
  const profile = tempDir('chromium-profile-');
  fs.mkdirSync(path.join(profile, 'Default'));
  fs.writeFileSync(
    path.join(profile, 'Default', 'Preferences'),
    JSON.stringify({ profile: { cookie_controls_mode: blockThirdPartyCookies ? 1 : 0 } }),
  );
  const child = spawn(
    process.env.CHROMIUM,
    [...FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'],
    // Its own process group: Debian's /usr/bin/chromium is a shell script
    // that runs the browser as a child, so signalling only the process we
    // started left the browser running, writing to the profile being deleted.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is gone already
    }
  };
  // However this script ends, no browser outlives it.
  const killOnExit = () => signalGroup('SIGKILL');
  process.on('exit', killOnExit);
  onExit(async () => {
    const exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((resolve) => child.once('exit', resolve));
    // SIGTERM lets Chromium close its profile; SIGKILL if it hangs.
    signalGroup('SIGTERM');
    const killer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
    // The browser has closed its profile; any helper left in the group goes
    // now, and the profile is deleted only once none is left.
    signalGroup('SIGKILL');
    await waitFor('Chromium to exit', () => {
      try {
        process.kill(-child.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    process.off('exit', killOnExit);
  });
  const portFile = path.join(profile, 'DevToolsActivePort');
  const [port, wsPath] = await waitFor('Chromium to open its DevTools port', () => {
    if (child.exitCode !== null) throw new Error(`Chromium exited with ${child.exitCode}:\n${stderr}`);
    const text = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8') : '';
    const lines = text.split('\n');
    return lines.length >= 2 && lines[1] ? lines : null;
  });
  const browser = await chromium.connectOverCDP(`ws://127.0.0.1:${port}${wsPath}`);
  onExit(() => browser.close());
  const cdp = await browser.newBrowserCDPSession();
  const context = browser.contexts()[0];
  return {
    context,
    /** Every cookie in the browser, partitioned ones included (CDP `Storage.getCookies`). */
    async cookies() {
      const { cookies } = await cdp.send('Storage.getCookies');
      return cookies;
    },
  };
}

/** Opens `url` in a new tab that records DevTools' CORS failures. */
async function openPage(browser, url) {
  const page = await browser.context.newPage();
  const cdp = await browser.context.newCDPSession(page);
  const urls = new Map();
  const corsErrors = [];
  cdp.on('Network.requestWillBeSent', ({ requestId, request }) => urls.set(requestId, `${request.method} ${request.url}`));
  cdp.on('Network.loadingFailed', ({ requestId, corsErrorStatus }) => {
    if (corsErrorStatus) corsErrors.push({ request: urls.get(requestId), error: corsErrorStatus.corsError });
  });
  await cdp.send('Network.enable');
  const response = await page.goto(url);
  assert.equal(response.status(), 200, `loading ${url}`);
  page.corsErrors = corsErrors;
  return page;
}

/** Calls the example frontend's `api.<name>(...args)` in the page. */
function callApi(page, name, ...args) {
  return page.evaluate(([name, args]) => window.api[name](...args), [name, args]);
}

/**
 * Runs `fetch(url, init)` in the page and reports only whether the page got
 * to read a body. A CORS refusal rejects the promise with a message that
 * says nothing; what happened is asserted elsewhere.
 */
function pageFetch(page, url, init) {
  return page.evaluate(
    async ([url, init]) => {
      try {
        const response = await fetch(url, init);
        return { read: true, status: response.status, body: await response.text() };
      } catch {
        return { read: false };
      }
    },
    [url, init],
  );
}

// ----------------------------------------------------------------- the flow

/** The session cookie(s) for `host` in the jar. */
function sessionCookies(jar, host) {
  return jar.filter((c) => c.domain === host && (c.name === 'sid' || c.name === '__Host-sid'));
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

/** Checks a CDP cookie against the expected name and attributes. */
function assertCookie(cookie, expected) {
  const actual = {
    name: cookie.name,
    path: cookie.path,
    httpOnly: cookie.httpOnly,
    secure: cookie.secure,
    sameSite: cookie.sameSite ?? 'unset',
    partitionedFor: cookie.partitionKey?.topLevelSite ?? null,
    hostOnly: !cookie.domain.startsWith('.'),
  };
  assert.deepEqual(actual, expected, `cookie attributes: ${JSON.stringify(cookie)}`);
}

function assertStartupLine(backend, shape, cookie) {
  const line = backend.startupLine();
  assert.ok(line.includes(`deployment=${shape}`), `shape missing from: ${line}`);
  assert.ok(line.includes(`cookie=${cookie}`), `cookie missing from: ${line}`);
}

const LAX_DEV_COOKIE = {
  name: 'sid',
  path: '/',
  httpOnly: true,
  secure: false,
  sameSite: 'Lax',
  partitionedFor: null,
  hostOnly: true,
};

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
  const answeredBy = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith('/api/')) {
      answeredBy.push(`${response.request().method()} ${url.pathname} ${response.status()} <- ${response.headers()['x-upstream']}`);
    }
  });
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

  console.log(`answers the browser got through nginx:\n  ${answeredBy.join('\n  ')}`);
  const instances = new Set(answeredBy.map((line) => line.split(' <- ')[1]));
  assert.equal(instances.size, 2, `API calls answered by ${[...instances]}`);
  assert.ok(![...instances].includes(undefined), 'every answer came through nginx');
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
    expected: {
      name: '__Host-sid',
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'None',
      partitionedFor: 'http://localhost',
      hostOnly: true,
    },
  });
  assert.deepEqual(page.corsErrors, []);
}

// --------------------------------------------------------------------- main

const name = process.argv[2];
const scenario = scenarios[name];
if (!scenario) {
  console.error(`unknown scenario ${name}; one of: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
const started = Date.now();
try {
  await scenario();
  console.log(`scenario ${name}: passed in ${Date.now() - started} ms`);
} catch (error) {
  console.error(`scenario ${name}: FAILED after ${Date.now() - started} ms`);
  console.error(error);
  process.exitCode = 1;
} finally {
  await runCleanups();
}
