// What every browser scenario shares (tests/browser/shapes.mjs for the
// deployment shapes with passwords, tests/browser/oidc.mjs for hosted login
// with OpenID Connect): starting and stopping processes, a generated
// project's backend and its log, a static frontend server, Chromium launched
// with the flags measured on this machine, and the checks on its cookie jar.
//
// Chromium is launched here with exactly the flags measured on this machine
// (see DESIGN.md) and a fresh profile; playwright-core only connects to it
// over CDP. Its own launcher would add switches of its own, some of which
// change storage and cookie behaviour, the very thing under test.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

export const PATIENCE_MS = 30_000;

// ---------------------------------------------------------------- processes

const cleanups = [];
export const onExit = (fn) => cleanups.push(fn);
/** What to print when the scenario fails (a backend's log, a provider's events). */
const reports = [];
export const onFailure = (fn) => reports.push(fn);

async function runCleanups() {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (error) {
      console.error('cleanup failed:', error);
    }
  }
}

export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // Retries: a process that just exited may still have files being closed.
  onExit(() => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return dir;
}

/**
 * Ports handed out by `freePort`, never twice. Every server this process
 * starts listens on one (not on port 0): the system's choice for port 0 may
 * be a port just handed out for a backend that has not bound it yet (seen:
 * a provider took its backend's port, which then failed to start).
 */
const handedOut = new Set();

/** A port that was free a moment ago (the backend must know its origin before it binds). */
export async function freePort() {
  for (;;) {
    const server = net.createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    await new Promise((resolve) => server.close(resolve));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Waits until `predicate()` is truthy, failing with `what` after PATIENCE_MS. */
export async function waitFor(what, predicate) {
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

export class Backend {
  /**
   * Starts a generated project's binary with `env` in `cwd`, by default an
   * empty folder (no .env).
   */
  static async start(bin, env, { cwd = tempDir('backend-') } = {}) {
    const child = spawn(bin, [], {
      cwd,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: `sqlite://${path.join(cwd, 'app.db')}`,
        RUST_LOG: 'info',
        NO_COLOR: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const backend = new Backend(child);
    onExit(() => backend.stop());
    onFailure(() => console.error(`the backend's log (${bin}):\n${backend.output()}`));
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

  /**
   * `METHOD /path STATUS` for every response logged so far (CORS answers
   * preflights before the log). Leaves out `GET /favicon.ico`: Chromium
   * asks for it on its own, at a moment of its choosing (seen between a
   * signup and the logout after it), so it is no part of what a page did.
   */
  responses() {
    return this.lines
      .map((line) => line.match(RESPONSE_LINE))
      .filter(Boolean)
      .map(([, method, uri, status]) => `${method} ${uri} ${status}`)
      .filter((response) => !response.startsWith('GET /favicon.ico '));
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
export function sessionStatusWithCookie(origin, cookie) {
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
export function localhostToLoopback(hostname, options, callback) {
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}

// -------------------------------------------------------------- SMTP server

/**
 * A real SMTP server, aiosmtpd (template/crates/platform/src/testing/smtp_server.py, run by
 * python3 with the PYTHONPATH this script was given), on a free loopback
 * port; each message it receives is a JSON file in a folder of its own.
 * `smtpUrl` is the backend's SMTP_URL for it.
 */
export async function startSmtpServer() {
  const port = await freePort();
  const dir = tempDir('smtp-');
  const script = path.join(
    path.dirname(new URL(import.meta.url).pathname),
    '../../template/crates/platform/src/testing/smtp_server.py',
  );
  const child = spawn('python3', [script, String(port), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const spawnError = new Promise((resolve) => child.once('error', resolve));
  onExit(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  });
  onFailure(() => console.error(`the SMTP server's output:\n${stdout}${stderr}`));
  let failed;
  spawnError.then((error) => (failed = error));
  await waitFor('the SMTP server (python3 smtp_server.py) to listen', () => {
    if (failed) throw new Error(`python3 did not start: ${failed.message}`);
    if (child.exitCode !== null) {
      throw new Error(`the SMTP server exited with ${child.exitCode} (is aiosmtpd on PYTHONPATH?):\n${stderr}`);
    }
    return stdout.startsWith('ready');
  });
  /** Every message received so far, oldest first. */
  const received = () =>
    fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((name) => JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')));
  return {
    smtpUrl: `smtp://127.0.0.1:${port}?tls=none`,
    received,
    /** The messages to `to`, once there are at least `count` of them. */
    async waitForMail(to, count = 1) {
      return waitFor(`${count} mail(s) to ${to} at the SMTP server`, () => {
        const mails = received().filter((mail) => mail.to.includes(to));
        return mails.length >= count ? mails : null;
      });
    },
  };
}

// ----------------------------------------------------------- static servers

/**
 * Serves `dir` like a frontend dev server would, with the example's
 * `api-origin` meta tag pointing at `apiOrigin`. Listens on a fresh port.
 */
export async function serveFrontend(dir, apiOrigin) {
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

/** A bare page for code that runs on some origin. */
export async function serveBlankPage() {
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
export async function serveUnpartitionedCookie(frontendOrigin) {
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
  const port = await freePort();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
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
export async function launchChromium({ blockThirdPartyCookies }) {
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
    /**
     * A separate browser context (its own cookies), as another person's
     * browser, or another device of the same person, would be; `options`
     * are playwright's (`userAgent`...).
     */
    newContext: (options) => browser.newContext(options),
    /** Every cookie in the browser, partitioned ones included (CDP `Storage.getCookies`). */
    async cookies() {
      const { cookies } = await cdp.send('Storage.getCookies');
      return cookies;
    },
  };
}

/**
 * Opens `url` in a new tab that records DevTools' CORS failures; `before`
 * is called (and awaited) with the tab before it loads anything. The tab is
 * in the browser's first context unless `context` (from
 * `browser.newContext`) says otherwise.
 */
export async function openPage(browser, url, { before, context = browser.context } = {}) {
  const page = await context.newPage();
  await before?.(page);
  const cdp = await context.newCDPSession(page);
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

/**
 * Behind nginx (tests/proxy.rs), which names the instance that answered in
 * an `X-Upstream` header: records `{ request, by }` for every API answer the
 * page gets from `origin`, `request` being `METHOD /path STATUS`.
 */
export function recordUpstreams(page, origin) {
  const answers = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.origin === origin && url.pathname.startsWith('/api/')) {
      answers.push({
        request: `${response.request().method()} ${url.pathname} ${response.status()}`,
        by: response.headers()['x-upstream'],
      });
    }
  });
  return answers;
}

/** Asserts that `answers` (from `recordUpstreams`) came through nginx from both instances, and prints them. */
export function assertBothInstancesAnswered(answers) {
  console.log(`answers the browser got through nginx:\n  ${answers.map((a) => `${a.request} <- ${a.by}`).join('\n  ')}`);
  const instances = new Set(answers.map((a) => a.by));
  assert.equal(instances.size, 2, `API calls answered by ${[...instances]}`);
  assert.ok(!instances.has(undefined), 'every answer came through nginx');
}

/** Calls the example frontend's `api.<name>(...args)` in the page. */
export function callApi(page, name, ...args) {
  return page.evaluate(([name, args]) => window.api[name](...args), [name, args]);
}

/**
 * Runs `fetch(url, init)` in the page and reports only whether the page got
 * to read a body. A CORS refusal rejects the promise with a message that
 * says nothing; what happened is asserted elsewhere.
 */
export function pageFetch(page, url, init) {
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

// ------------------------------------------------------------------ cookies

/** The session cookie(s) for `host` in the jar. */
export function sessionCookies(jar, host) {
  return jar.filter((c) => c.domain === host && (c.name === 'sid' || c.name === '__Host-sid'));
}

/** Checks a CDP cookie against the expected name and attributes. */
export function assertCookie(cookie, expected) {
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

export function assertStartupLine(backend, shape, cookie) {
  const line = backend.startupLine();
  assert.ok(line.includes(`deployment=${shape}`), `shape missing from: ${line}`);
  assert.ok(line.includes(`cookie=${cookie}`), `cookie missing from: ${line}`);
}

export const LAX_DEV_COOKIE = {
  name: 'sid',
  path: '/',
  httpOnly: true,
  secure: false,
  sameSite: 'Lax',
  partitionedFor: null,
  hostOnly: true,
};

// --------------------------------------------------------------------- main

/**
 * Runs the scenario named by the first argument, prints how long it took,
 * and stops everything it started, whatever happened.
 */
export async function runScenario(scenarios) {
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
    for (const report of reports) report();
    process.exitCode = 1;
  } finally {
    await runCleanups();
  }
}
