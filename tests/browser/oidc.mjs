// Hosted login with OpenID Connect (`auth = oidc`) in a real browser,
// through a real provider, run by tests/browser.rs:
//
//   node oidc.mjs <scenario>
//
// Environment (set by tests/browser.rs): CHROMIUM (the browser binary),
// OIDC_CROSS_APP_BIN / OIDC_CROSS_APP_DIR and OIDC_SAME_APP_BIN /
// OIDC_SAME_APP_DIR (the built cross-origin and same-origin projects
// generated with `--define auth=oidc`). tests/proxy.rs runs
// `oidc-behind-proxy` with CHROMIUM, PROXY_ORIGIN, INSTANCE_ORIGINS,
// OIDC_ISSUER and OIDC_CLIENT_ID (nginx in front of two instances, and a
// provider the test started).
//
// The provider is panva's oidc-provider (provider.mjs), started here on a
// free port. Chromium clicks "Sign in" on the project's own example frontend,
// fills the provider's real login form, consents, and lands back on the
// frontend page, which relays the provider's answer to the API: the flow of
// DESIGN.md, Part 1, "Hosted login with OpenID Connect". As in shapes.mjs,
// assertions are on the browser's cookie jar (over CDP), on DevTools' CORS
// failures, on what the page shows, on the backend's request log and on a
// copied session id replayed from outside the browser; here also on what the
// provider itself did (codes redeemed or refused, logouts).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
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
  onExit,
  onFailure,
  openPage,
  pageFetch,
  recordUpstreams,
  runScenario,
  serveFrontend,
  serveUnpartitionedCookie,
  sessionCookies,
  sessionStatusWithCookie,
  waitFor,
} from './harness.mjs';
import { startProvider } from './provider.mjs';

const CLIENT_SECRET = `secret-${randomUUID()}`;

const PARTITIONED_COOKIE = {
  name: '__Host-sid',
  path: '/',
  httpOnly: true,
  secure: true,
  sameSite: 'None',
  partitionedFor: 'http://localhost',
  hostOnly: true,
};

// -------------------------------------------------------------- the set-up

/**
 * A provider, a generated `auth = oidc` project and its example frontend in
 * one deployment shape:
 *
 * - `same-origin`: the backend serves the frontend (`STATIC_DIR`) on localhost:B;
 * - `same-site`: frontend localhost:F, API localhost:B;
 * - `cross-site`: frontend localhost:F, API 127.0.0.1:B.
 *
 * The provider (127.0.0.1:P) knows one client, registered with the frontend
 * page as its redirect and post-logout URI: a confidential one (client
 * secret, sent with HTTP Basic) or a public one (PKCE only). Its ID tokens
 * carry email and name only with `conformIdTokenClaims: false`; by default
 * (the provider's, `true`) those come from its UserInfo endpoint alone.
 */
async function startOidc({ shape, client = 'confidential', env = {}, conformIdTokenClaims }) {
  const port = await freePort();
  const backendHost = shape === 'cross-site' ? '127.0.0.1' : 'localhost';
  const backendOrigin = `http://${backendHost}:${port}`;
  let frontendOrigin = backendOrigin;
  if (shape !== 'same-origin') {
    const frontendDir = path.join(process.env.OIDC_CROSS_APP_DIR, 'frontend');
    frontendOrigin = `http://localhost:${await serveFrontend(frontendDir, backendOrigin)}`;
  }
  const pageUrl = `${frontendOrigin}/`;

  const clientId = `${shape}-${client}`;
  const confidential = client === 'confidential';
  const idp = await startProvider({
    // Not port 0: see freePort.
    port: await freePort(),
    conformIdTokenClaims,
    clients: [
      {
        client_id: clientId,
        ...(confidential
          ? { client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic' }
          : { token_endpoint_auth_method: 'none' }),
        redirect_uris: [pageUrl],
        post_logout_redirect_uris: [pageUrl],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
  });
  onExit(() => idp.stop());
  onFailure(() => console.error(`what the provider did: ${idp.events.join(', ')}`));

  const sameOrigin = shape === 'same-origin';
  const backend = await Backend.start(sameOrigin ? process.env.OIDC_SAME_APP_BIN : process.env.OIDC_CROSS_APP_BIN, {
    BIND_ADDR: `127.0.0.1:${port}`,
    PUBLIC_ORIGIN: backendOrigin,
    ...(sameOrigin
      ? { STATIC_DIR: path.join(process.env.OIDC_SAME_APP_DIR, 'frontend') }
      : { FRONTEND_ORIGINS: frontendOrigin }),
    OIDC_ISSUER_URL: idp.issuer,
    OIDC_CLIENT_ID: clientId,
    ...(confidential ? { OIDC_CLIENT_SECRET: CLIENT_SECRET } : {}),
    OIDC_REDIRECT_URL: pageUrl,
    OIDC_POST_LOGOUT_REDIRECT_URL: pageUrl,
    ...env,
  });
  // Discovery runs in the background after start-up: ready means it is done.
  await waitFor('the backend to be ready (provider discovered)', async () => (await status(`${backendOrigin}/api/ready`)) === 200);
  return {
    idp,
    backend,
    backendOrigin,
    frontendOrigin,
    pageUrl,
    clientId,
    servers: [backendOrigin],
    claimsInIdToken: conformIdTokenClaims === false,
  };
}

/** The status of a GET from outside the browser. */
function status(url) {
  return new Promise((resolve) => {
    http
      .get(url, { lookup: localhostToLoopback }, (response) => {
        response.resume();
        resolve(response.statusCode);
      })
      .on('error', () => resolve(0));
  });
}

// ---------------------------------------------------------- page helpers

/** The text of `selector` on the page, once it equals `text` (or matches it). */
async function expectText(page, selector, text) {
  const matches = (value) => (text instanceof RegExp ? text.test(value) : value === text);
  let value;
  try {
    await waitFor(`${selector} to show ${text}`, async () => {
      value = await page.locator(selector).textContent();
      return matches(value ?? '');
    });
  } catch (error) {
    throw new Error(`${error.message}; it shows ${JSON.stringify(value)} on ${page.url()}`);
  }
  return value;
}

/** `location.href` as the page's own code sees it (after history.replaceState). */
function locationOf(page) {
  return page.evaluate(() => location.href);
}

/**
 * Records what the page sends to the API's callback route (the provider's
 * parameters relayed by the frontend) and what it got back, and every page
 * the tab lands on.
 */
function recordFlow(page) {
  const flow = { callbacks: [], answers: [], landings: [] };
  const isCallback = (request) =>
    request.method() === 'POST' && new URL(request.url()).pathname === '/api/auth/oidc/callback';
  page.on('request', (request) => {
    if (isCallback(request)) flow.callbacks.push(request.postDataJSON());
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      flow.landings.push(request.url());
    }
  });
  page.on('response', async (response) => {
    if (isCallback(response.request())) {
      const text = await response.text().catch(() => '');
      flow.answers.push({ status: response.status(), body: text ? JSON.parse(text) : null });
    }
  });
  return flow;
}

/**
 * Waits for the page to have relayed a provider answer since `before`
 * relays, and for the API's answer to show in the page's `#last`; returns
 * that answer `{ status, body }`.
 */
async function relayAnswer(page, flow, before) {
  await waitFor('the page to relay the provider answer', () => flow.answers.length > before);
  const answer = flow.answers.at(-1);
  await expectText(page, '#last', new RegExp(`^${answer.status}\\b`));
  return answer;
}

/** Whether `url` is on the provider and its path starts with `prefix`. */
const onProvider = (idp, prefix) => (url) => url.origin === idp.issuer && url.pathname.startsWith(prefix);

/**
 * From the provider's login page: types `login` and a password into its
 * real form, submits, and consents if the provider asks. Resolves when the
 * tab has left the provider for `frontendOrigin`.
 */
async function loginAtProvider(page, idp, frontendOrigin, login) {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password: the development form accepts all');
  const loginPage = new URL(page.url()).pathname;
  await Promise.all([
    page.waitForURL((url) => url.origin === frontendOrigin || (onProvider(idp, '/interaction/')(url) && url.pathname !== loginPage)),
    page.locator('button[type="submit"]').click(),
  ]);
  if (new URL(page.url()).origin === idp.issuer) {
    // The consent page: the client asks for openid, email and profile.
    assert.equal(await page.locator('input[name="prompt"]').getAttribute('value'), 'consent', `on ${page.url()}`);
    await Promise.all([
      page.waitForURL((url) => url.origin === frontendOrigin),
      page.locator('button[type="submit"]').click(),
    ]);
  }
}

/** Clicks the frontend's "Sign in" and waits for the provider's login form. */
async function clickSignIn(page, idp) {
  await Promise.all([page.waitForURL(onProvider(idp, '/interaction/')), page.locator('#sign-in').click()]);
  await page.locator('input[name="login"]').waitFor();
}

/** The one session cookie for `host` in the browser's jar, if any. */
async function jarCookie(browser, host) {
  const found = sessionCookies(await browser.cookies(), host);
  assert.ok(found.length <= 1, `one session cookie at most: ${JSON.stringify(found)}`);
  return found[0];
}

/** The responses the backend logged since `mark` (a count of earlier responses). */
function loggedSince(backend, mark) {
  return backend.responses().slice(mark);
}

/**
 * Asserts that `expected` appear in `read()` in this order (others may come
 * between). The backend writes its log from a thread of its own just after
 * each response, so this waits a little for the last lines.
 */
async function expectInOrder(read, expected, what) {
  const found = (actual) => {
    let at = 0;
    for (const line of actual) if (line === expected[at]) at++;
    return at;
  };
  const deadline = Date.now() + 5_000;
  while (found(read()) < expected.length && Date.now() < deadline) await sleep(50);
  const actual = read();
  assert.equal(found(actual), expected.length, `${what}: expected ${JSON.stringify(expected)} in order, in ${JSON.stringify(actual)}`);
}

function assertNoServerErrors(backend) {
  const bad = backend.responses().filter((line) => / 5\d\d$/.test(line));
  assert.deepEqual(bad, [], 'no 5xx from the backend');
  assert.ok(!/panicked/.test(backend.output()), 'the backend did not panic');
}

// ----------------------------------------------------------- the full flow

/**
 * A session id replayed from outside the browser to each server of
 * `setup.servers` (the backend, or each instance behind nginx): the status
 * each answers.
 */
function statusOnEveryServer(setup, cookie) {
  return Promise.all(setup.servers.map((server) => sessionStatusWithCookie(server, cookie)));
}

/**
 * Signs in through the provider's real pages from `page` (on the frontend,
 * signed out), and checks every step: the pending login's cookie, the relay,
 * the cleaned URL, the new session id, what the page shows and what the
 * server logged. Resolves to `{ user, cookie, callback }`.
 *
 * Behind nginx (`oidc-behind-proxy`) the setup has no `backend` (tests/proxy.rs
 * reads the instances' logs) and the provider runs in another process (no
 * `idp.idTokens`); `setup.servers` are then both instances.
 */
async function signIn({ page, browser, setup, login, expected, flow }) {
  const { idp, backend, backendOrigin, frontendOrigin, pageUrl } = setup;
  const host = new URL(backendOrigin).hostname;
  const mark = backend?.responses().length;
  const callbacksBefore = flow.callbacks.length;
  await expectText(page, '#who', 'Not signed in');

  await clickSignIn(page, idp);
  // The pending login (state, nonce, PKCE verifier) is in the session the
  // start request created: the browser holds its cookie already.
  const pending = await jarCookie(browser, host);
  assert.ok(pending, 'starting a login stored a session cookie');
  assertCookie(pending, expected);
  const authorize = new URL(flow.landings.findLast((url) => url.startsWith(`${idp.issuer}/auth?`)));
  assert.equal(authorize.searchParams.get('response_type'), 'code');
  assert.equal(authorize.searchParams.get('client_id'), setup.clientId);
  assert.equal(authorize.searchParams.get('redirect_uri'), pageUrl);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  for (const name of ['state', 'nonce', 'code_challenge']) {
    assert.ok(authorize.searchParams.get(name)?.length >= 16, `${name} in ${authorize}`);
  }
  assert.deepEqual(authorize.searchParams.get('scope').split(' ').sort(), ['email', 'openid', 'profile']);

  await loginAtProvider(page, idp, frontendOrigin, login);

  // Back on the frontend page: it relays the provider's answer once. The
  // API's answer says whom it signed in: the login's email and name, whether
  // the ID token carried them or only UserInfo did.
  const answer = await relayAnswer(page, flow, callbacksBefore);
  assert.equal(answer.status, 200, JSON.stringify(answer));
  if (idp.idTokens) {
    const idToken = idp.idTokens.at(-1);
    assert.ok(idToken, `the provider issued an ID token: ${idp.events}`);
    // The control: the provider's setting is in force.
    assert.equal(
      idToken.email,
      setup.claimsInIdToken ? login : undefined,
      `email in the ID token (claims in the ID token: ${setup.claimsInIdToken}): ${JSON.stringify(idToken)}`,
    );
  }
  assert.equal(answer.body.user.email, login, `the signed-in user's email: ${JSON.stringify(answer.body.user)}`);
  assert.equal(answer.body.user.name, `User ${login}`, `the signed-in user's name: ${JSON.stringify(answer.body.user)}`);
  assert.equal(answer.body.return_to, '/');
  // The page then shows the email and removes code and state from the address bar.
  const user = await expectText(page, '#who', `Signed in as ${login}`);
  await waitFor('the page to clean its URL', async () => (await locationOf(page)) === pageUrl);
  assert.equal(flow.callbacks.length, callbacksBefore + 1, 'one relay to the callback route');
  const callback = flow.callbacks.at(-1);
  assert.equal(callback.state, authorize.searchParams.get('state'));
  assert.ok(callback.code, `a code in ${JSON.stringify(callback)}`);
  assert.equal(callback.iss, idp.issuer);
  const landed = new URL(flow.landings.at(-1));
  assert.equal(landed.origin + landed.pathname, pageUrl);
  assert.equal(landed.searchParams.get('code'), callback.code);

  const cookie = await jarCookie(browser, host);
  assert.ok(cookie, 'signed in with a session cookie');
  assertCookie(cookie, expected);
  assert.notEqual(cookie.value, pending.value, 'signing in issues a new session id');
  const deadEverywhere = setup.servers.map(() => 401);
  assert.deepEqual(await statusOnEveryServer(setup, pending), deadEverywhere, 'the pre-login session id is dead');

  const session = await callApi(page, 'session');
  assert.equal(session.status, 200, JSON.stringify(session));
  assert.equal(session.body.user.email, login, `the session's user: ${JSON.stringify(session.body.user)}`);
  assert.equal(session.body.user.name, `User ${login}`, `the session's user: ${JSON.stringify(session.body.user)}`);
  assert.deepEqual(
    await statusOnEveryServer(setup, cookie),
    setup.servers.map(() => 200),
    'the server holds the session',
  );

  if (backend) {
    await expectInOrder(
      () => loggedSince(backend, mark),
      ['POST /api/auth/oidc/start 200', 'POST /api/auth/oidc/callback 200', 'GET /api/auth/session 200'],
      'the server',
    );
  }
  assert.ok(user);
  return { user: session.body.user, cookie, callback };
}

/**
 * Logs out from the page: the server-side session goes first, then the
 * browser visits the provider's end-session page, confirms, and comes back
 * to the frontend signed out. The end-session URL names the client
 * (`client_id`) and carries no `id_token_hint`: the browser never holds the
 * ID token, not even in an address. Without a hint the provider cannot tell
 * that the request comes from its own relying party, so it asks the user to
 * confirm (oidc-provider shows its logout page whatever the request carries).
 */
async function logOut({ page, browser, setup, cookie }) {
  const { idp, backend, backendOrigin, frontendOrigin, pageUrl, clientId } = setup;
  const host = new URL(backendOrigin).hostname;
  const mark = backend?.responses().length;
  await Promise.all([page.waitForURL(onProvider(idp, '/session/end')), page.locator('#logout').click()]);
  const endSession = new URL(page.url());
  assert.equal(endSession.searchParams.get('client_id'), clientId, `${endSession}`);
  assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), pageUrl, `${endSession}`);
  assert.equal(endSession.searchParams.get('id_token_hint'), null, `an ID token in the browser's address bar: ${endSession}`);
  // The session is gone on the server before the browser reaches the provider.
  assert.deepEqual(await statusOnEveryServer(setup, cookie), setup.servers.map(() => 401), 'the server deleted the session');
  assert.equal(await jarCookie(browser, host), undefined, 'logout removed the cookie from the jar');
  if (backend) {
    await expectInOrder(() => loggedSince(backend, mark), ['POST /api/auth/logout 200', 'GET /api/auth/session 401'], 'the server');
  }

  // The provider's own question, then back to the post-logout page.
  const ends = idp.events?.filter((e) => e === 'end_session.success').length;
  await page.getByRole('heading', { name: /^Do you want to sign-out from / }).waitFor();
  await Promise.all([
    page.waitForURL((url) => url.origin === frontendOrigin),
    page.getByRole('button', { name: 'Yes, sign me out' }).click(),
  ]);
  await expectText(page, '#who', 'Not signed in');
  if (idp.events) {
    assert.equal(idp.events.filter((e) => e === 'end_session.success').length, ends + 1, 'the provider ended its session');
  }
}

/**
 * The whole life of a signed-in user in one shape: sign in through the
 * provider, read the session, reload, log out (here and at the provider),
 * and sign in again, which must show the provider's login form again.
 */
async function fullFlow({ shape, client, blockThirdPartyCookies = true, expected, startup, conformIdTokenClaims }) {
  const setup = await startOidc({ shape, client, conformIdTokenClaims });
  const { backend, backendOrigin, frontendOrigin, idp, pageUrl } = setup;
  assertStartupLine(backend, startup.shape, startup.cookie);
  const browser = await launchChromium({ blockThirdPartyCookies });
  const page = await openPage(browser, pageUrl);
  const flow = recordFlow(page);

  if (shape === 'cross-site') {
    // The control: is the third-party-cookie setting really in force?
    const control = `http://127.0.0.1:${await serveUnpartitionedCookie(frontendOrigin)}`;
    assert.equal((await pageFetch(page, `${control}/`, { credentials: 'include' })).status, 200);
    const stored = (await browser.cookies()).some((c) => c.name === 'unpartitioned');
    assert.equal(stored, !blockThirdPartyCookies, 'the third-party-cookie setting is in force');
  }

  const login = `ada-${randomUUID()}@example.com`;
  const first = await signIn({ page, browser, setup, login, expected, flow });

  // A reload keeps the session and relays nothing: the URL is clean.
  const callbacks = flow.callbacks.length;
  await page.reload();
  await expectText(page, '#who', `Signed in as ${login}`);
  assert.equal(flow.callbacks.length, callbacks, 'a reload relays nothing');
  assert.equal(await sessionStatusWithCookie(backendOrigin, first.cookie), 200);

  await logOut({ page, browser, setup, cookie: first.cookie });
  assert.equal((await callApi(page, 'session')).status, 401);

  // Again: the provider ended its own session, so its login form shows again.
  const again = await signIn({ page, browser, setup, login, expected, flow });
  assert.equal(again.user.id, first.user.id, 'the same (issuer, subject) is the same user');
  assert.notEqual(again.cookie.value, first.cookie.value);
  assert.notEqual(again.callback.code, first.callback.code);
  await logOut({ page, browser, setup, cookie: again.cookie });

  assert.deepEqual(page.corsErrors, []);
  assert.deepEqual(
    flow.landings.filter((url) => new URL(url).searchParams.has('id_token_hint')),
    [],
    'no page the tab loaded had an ID token in its address',
  );
  assertNoServerErrors(backend);
  // Each code was redeemed exactly once, and nothing was refused.
  assert.equal(idp.events.filter((e) => e === 'grant.success').length, 2, `provider: ${idp.events}`);
  assert.deepEqual(idp.events.filter((e) => e.includes('error')), [], 'provider errors');
}

// ------------------------------------------------------------ behind nginx

/** The instance that answers a GET from outside the browser through nginx (its `X-Upstream`). */
function upstreamOfProbe(origin) {
  return new Promise((resolve, reject) => {
    http
      .get(`${origin}/api/health`, { lookup: localhostToLoopback }, (response) => {
        response.resume();
        resolve(response.headers['x-upstream']);
      })
      .on('error', reject);
  });
}

/**
 * Run by tests/proxy.rs: nginx round-robin (`PROXY_ORIGIN`) in front of two
 * instances (`INSTANCE_ORIGINS`, each reached directly, comma-separated) of
 * a same-origin `auth = oidc` project whose sessions are in one Redis; the
 * provider (`OIDC_ISSUER`, client `OIDC_CLIENT_ID`) is `node provider.mjs`,
 * started by the test before the instances, which discover it at start-up.
 *
 * The sign-in starts on one instance and the page's relay reaches the
 * other: the pending sign-in (state, nonce, PKCE verifier) is in the
 * session, which both read from Redis. nginx (one worker) hands requests to
 * the instances in turn, so just before the relay leaves the page, requests
 * from outside the browser take turns until the next one is the other
 * instance's; which instance answered each is then checked, not assumed.
 * Then the session is read through nginx and from each instance directly,
 * and the user logs out (both instances forget the session, then the
 * provider's end-session page).
 */
async function behindProxy() {
  const origin = process.env.PROXY_ORIGIN;
  const setup = {
    idp: { issuer: process.env.OIDC_ISSUER },
    backendOrigin: origin,
    frontendOrigin: origin,
    pageUrl: `${origin}/`,
    clientId: process.env.OIDC_CLIENT_ID,
    servers: process.env.INSTANCE_ORIGINS.split(','),
  };
  assert.equal(setup.servers.length, 2, `two instances: ${setup.servers}`);
  for (const server of setup.servers) {
    await waitFor(`${server} to be ready (provider discovered)`, async () => (await status(`${server}/api/ready`)) === 200);
  }
  const browser = await launchChromium({ blockThirdPartyCookies: true });
  const page = await openPage(browser, setup.pageUrl);
  const flow = recordFlow(page);
  const answeredBy = recordUpstreams(page, origin);
  const upstreamOf = (request) => answeredBy.findLast((answer) => answer.request === request)?.by;

  await page.route(
    (url) => url.pathname === '/api/auth/oidc/callback',
    async (route) => {
      const startedOn = upstreamOf('POST /api/auth/oidc/start 200');
      // Stops once the probe went to the instance that started the sign-in:
      // the next request goes to the other one.
      for (let turns = 0; turns < 2 && (await upstreamOfProbe(origin)) !== startedOn; turns++);
      await route.continue();
    },
  );

  const login = `proxied-${randomUUID()}@example.com`;
  const { cookie } = await signIn({ page, browser, setup, login, expected: LAX_DEV_COOKIE, flow });
  const startedOn = upstreamOf('POST /api/auth/oidc/start 200');
  const relayedTo = upstreamOf('POST /api/auth/oidc/callback 200');
  assert.ok(startedOn && relayedTo, `both through nginx: ${JSON.stringify(answeredBy)}`);
  assert.notEqual(relayedTo, startedOn, 'the callback reached the instance that did not start the sign-in');
  console.log(`sign-in started on ${startedOn}, its callback relayed to ${relayedTo}`);
  await page.unrouteAll();

  for (let n = 0; n < 2; n++) {
    // Twice in a row: round-robin sends them to different instances.
    const session = await callApi(page, 'session');
    assert.equal(session.status, 200, JSON.stringify(session));
    assert.equal(session.body.user.email, login, JSON.stringify(session.body.user));
  }

  await logOut({ page, browser, setup, cookie });
  for (let n = 0; n < 2; n++) assert.equal((await callApi(page, 'session')).status, 401);
  assert.deepEqual(page.corsErrors, []);
  assertBothInstancesAnswered(answeredBy);
}

// ----------------------------------------------------------- hostile cases

/**
 * What an attacker does in their own browser: starts a sign-in (from
 * outside any browser, with a session of their own), signs in at the
 * provider as themselves in another browser context, through the real
 * login form, and keeps the URL the provider sends them back to, with a
 * fresh code, state and iss, unused. Their browser never loads that URL:
 * the consent form is sent with the context's own request client (same
 * cookies), which does not follow the provider's redirects. (Here, after
 * the cross-site navigation back, blocking the page's relay with
 * `page.route` let it through once in a few runs, and a context with
 * JavaScript off relayed it every time.)
 */
async function attackerCallbackUrl(browser, setup) {
  const { idp, backendOrigin, frontendOrigin } = setup;
  const start = await postJson(`${backendOrigin}/api/auth/oidc/start`, {}, frontendOrigin);
  assert.equal(start.status, 200, JSON.stringify(start));
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(start.body.authorization_url);
  await page.locator('input[name="login"]').fill(`mallory-${randomUUID()}@example.com`);
  await page.locator('input[name="password"]').fill('whatever');
  const loginPage = new URL(page.url()).pathname;
  await Promise.all([
    page.waitForURL((url) => onProvider(idp, '/interaction/')(url) && url.pathname !== loginPage),
    page.locator('button[type="submit"]').click(),
  ]);
  // The consent page, a new user's first visit.
  assert.equal(await page.locator('input[name="prompt"]').getAttribute('value'), 'consent');
  const action = new URL(await page.locator('form').getAttribute('action'), page.url());
  let response = await context.request.post(action.href, { form: { prompt: 'consent' }, maxRedirects: 0 });
  for (let hops = 0; hops < 5 && response.status() === 303; hops++) {
    const next = new URL(response.headers().location, idp.issuer);
    if (next.origin === frontendOrigin) {
      assert.ok(next.searchParams.get('code') && next.searchParams.get('state'), `no code in ${next}`);
      await context.close();
      return next;
    }
    response = await context.request.get(next.href, { maxRedirects: 0 });
  }
  throw new Error(`the provider did not send the attacker back: ${response.status()} ${await response.text()}`);
}

/** A JSON POST from outside the browser, with `origin` as its Origin header. */
function postJson(url, body, origin) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        lookup: localhostToLoopback,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, body: text ? JSON.parse(text) : null }));
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

/** Ends every hostile case: nothing signed in, as the page, the API and the jar say. */
async function assertSignedOut({ page, browser, setup }) {
  await expectText(page, '#who', 'Not signed in');
  const session = await callApi(page, 'session');
  assert.equal(session.status, 401, JSON.stringify(session));
  const cookie = await jarCookie(browser, new URL(setup.backendOrigin).hostname);
  if (cookie) assert.equal(await sessionStatusWithCookie(setup.backendOrigin, cookie), 401);
  assertNoServerErrors(setup.backend);
}

const hostile = {
  /**
   * Login CSRF: an attacker's fresh code and state (for the attacker's own
   * account), relayed into a victim's browser through a link to the real
   * frontend page. The state is not the victim's: 400, and the code is never
   * even redeemed at the provider.
   */
  async 'oidc-login-csrf'() {
    const setup = await startOidc({ shape: 'cross-site' });
    const { backend, idp, pageUrl } = setup;
    const browser = await launchChromium({ blockThirdPartyCookies: true });
    const evil = await attackerCallbackUrl(browser, setup);
    assert.deepEqual(
      backend.responses().filter((line) => !line.startsWith('GET /api/ready')),
      ['POST /api/auth/oidc/start 200'],
      'the attacker relayed nothing',
    );
    const grants = idp.events.filter((e) => e.startsWith('grant.')).length;
    assert.equal(grants, 0);

    // 1. A victim with no login under way opens the attacker's link.
    let flow;
    const page = await openPage(browser, evil.href, { before: (page) => (flow = recordFlow(page)) });
    let answer = await relayAnswer(page, flow, 0);
    assert.equal(answer.status, 400, JSON.stringify(answer));
    assert.equal(answer.body?.error?.code, 'invalid_state', JSON.stringify(answer));
    await waitFor('the page to clean its URL', async () => (await locationOf(page)) === pageUrl);
    await assertSignedOut({ page, browser, setup });

    // 2. A victim in the middle of their own login (on the provider's form)
    // is sent the attacker's link: the states differ, the victim's pending
    // login is dropped, and nothing is signed in.
    await clickSignIn(page, setup.idp);
    const before = flow.callbacks.length;
    await page.goto(evil.href);
    answer = await relayAnswer(page, flow, before);
    assert.equal(answer.status, 400, JSON.stringify(answer));
    await assertSignedOut({ page, browser, setup });

    assert.equal(idp.events.filter((e) => e.startsWith('grant.')).length, grants, 'the attacker code was never redeemed');
    await expectInOrder(
      () => backend.responses(),
      ['POST /api/auth/oidc/callback 400', 'POST /api/auth/oidc/start 200', 'POST /api/auth/oidc/callback 400'],
      'the server',
    );
  },

  /**
   * A login finished after OIDC_LOGIN_TIMEOUT_SECS: the provider hands out a
   * valid code, but the backend refuses the stale state without redeeming it.
   */
  async 'oidc-expired-state'() {
    const timeout = 2;
    const setup = await startOidc({ shape: 'cross-site', env: { OIDC_LOGIN_TIMEOUT_SECS: String(timeout) } });
    const { idp } = setup;
    const browser = await launchChromium({ blockThirdPartyCookies: true });
    const page = await openPage(browser, setup.pageUrl);
    const flow = recordFlow(page);
    await expectText(page, '#who', 'Not signed in');
    await clickSignIn(page, idp);
    await sleep((timeout + 1) * 1000);
    await loginAtProvider(page, idp, setup.frontendOrigin, `slow-${randomUUID()}@example.com`);
    const answer = await relayAnswer(page, flow, 0);
    assert.equal(answer.status, 400, JSON.stringify(answer));
    assert.equal(answer.body?.error?.code, 'invalid_state', JSON.stringify(answer));
    await waitFor('the page to clean its URL', async () => (await locationOf(page)) === setup.pageUrl);
    await assertSignedOut({ page, browser, setup });
    assert.deepEqual(idp.events.filter((e) => e.startsWith('grant.')), [], 'the stale code was never redeemed');
    await expectInOrder(
      () => setup.backend.responses(),
      ['POST /api/auth/oidc/start 200', 'POST /api/auth/oidc/callback 400', 'GET /api/auth/session 401'],
      'the server',
    );
  },

  /**
   * A code that has been used: replayed by the page that used it (its login
   * is consumed: 400), and by another browser context that has a login of
   * its own under way, with its own state (the provider refuses the code: 401).
   */
  async 'oidc-replayed-code'() {
    const setup = await startOidc({ shape: 'cross-site' });
    const { idp, backend } = setup;
    const browser = await launchChromium({ blockThirdPartyCookies: true });
    const page = await openPage(browser, setup.pageUrl);
    const flow = recordFlow(page);
    const login = `ada-${randomUUID()}@example.com`;
    const { callback, cookie } = await signIn({ page, browser, setup, login, expected: PARTITIONED_COOKIE, flow });

    // 1. The same browser sends the same parameters again.
    const replay = await callApi(page, 'oidcCallback', callback);
    assert.equal(replay.status, 400, JSON.stringify(replay));
    assert.equal(replay.body?.error?.code, 'invalid_state', JSON.stringify(replay));

    // 2. Another context starts its own login, then sends the used code
    // with its own, genuine state.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    assert.equal((await otherPage.goto(setup.pageUrl)).status(), 200);
    const otherFlow = recordFlow(otherPage);
    await clickSignIn(otherPage, idp);
    const state = new URL(otherFlow.landings.findLast((url) => url.startsWith(`${idp.issuer}/auth?`))).searchParams.get('state');
    await otherPage.goto(setup.pageUrl);
    // Back on the frontend, its login still pending (the provider's form left unanswered).
    const refused = await callApi(otherPage, 'oidcCallback', { ...callback, state });
    assert.equal(refused.status, 401, JSON.stringify(refused));
    assert.equal(refused.body?.error?.code, 'invalid_token', JSON.stringify(refused));
    assert.ok(idp.events.includes('grant.error invalid_grant'), `the provider refused the code: ${idp.events}`);
    // And the exact replay there: no login pending any more.
    const exact = await callApi(otherPage, 'oidcCallback', callback);
    assert.equal(exact.status, 400, JSON.stringify(exact));
    assert.equal((await callApi(otherPage, 'session')).status, 401);
    await otherPage.reload();
    await expectText(otherPage, '#who', 'Not signed in');

    // The user's own session is untouched by all this, and was never the other context's.
    assert.ok(!(await other.cookies()).some((c) => c.value === cookie.value), 'the session id stayed in its context');
    assert.equal(await sessionStatusWithCookie(setup.backendOrigin, cookie), 200);
    await expectInOrder(
      () => backend.responses(),
      ['POST /api/auth/oidc/callback 200', 'POST /api/auth/oidc/callback 400', 'POST /api/auth/oidc/start 200', 'POST /api/auth/oidc/callback 401', 'POST /api/auth/oidc/callback 400'],
      'the server',
    );
    assertNoServerErrors(backend);
    await other.close();
  },

  /**
   * Open redirect: a `return_to` that leaves the frontend's origin is
   * refused at the start, before anything goes to the provider; a relative
   * one is accepted and comes back from the callback.
   */
  async 'oidc-return-to'() {
    const setup = await startOidc({ shape: 'same-site' });
    const { backend, idp } = setup;
    const browser = await launchChromium({ blockThirdPartyCookies: true });
    const page = await openPage(browser, setup.pageUrl);
    for (const bad of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'http:/evil.example', 'notes']) {
      const answer = await callApi(page, 'oidcStart', bad);
      assert.equal(answer.status, 400, `${bad}: ${JSON.stringify(answer)}`);
      assert.equal(answer.body?.error?.code, 'invalid_return_to', JSON.stringify(answer));
    }
    const good = await callApi(page, 'oidcStart', '/notes?tab=2#top');
    assert.equal(good.status, 200, JSON.stringify(good));
    assert.equal(new URL(good.body.authorization_url).origin, idp.issuer);
    // Follow it through the provider: the callback gives the path back.
    const flow = recordFlow(page);
    await page.goto(good.body.authorization_url);
    await loginAtProvider(page, idp, setup.frontendOrigin, `ada-${randomUUID()}@example.com`);
    const answer = await relayAnswer(page, flow, 0);
    assert.equal(answer.status, 200, JSON.stringify(answer));
    assert.equal(answer.body.return_to, '/notes?tab=2#top');
    await waitFor('the page to go to return_to', async () => (await locationOf(page)) === `${setup.frontendOrigin}/notes?tab=2#top`);
    await expectInOrder(
      () => backend.responses(),
      [...Array(5).fill('POST /api/auth/oidc/start 400'), 'POST /api/auth/oidc/start 200', 'POST /api/auth/oidc/callback 200'],
      'the server',
    );
    // Clean up: this scenario's point is the refusals above.
    assert.equal((await callApi(page, 'logout')).status, 200);
    assert.equal((await callApi(page, 'session')).status, 401);
    assertNoServerErrors(backend);
  },

  /**
   * The user cancels at the provider: it sends the browser back with
   * `error=access_denied`, the page relays it, and nothing is signed in.
   */
  async 'oidc-access-denied'() {
    const setup = await startOidc({ shape: 'cross-site' });
    const { idp } = setup;
    const browser = await launchChromium({ blockThirdPartyCookies: true });
    const page = await openPage(browser, setup.pageUrl);
    const flow = recordFlow(page);
    await expectText(page, '#who', 'Not signed in');
    await clickSignIn(page, idp);
    await Promise.all([
      page.waitForURL((url) => url.origin === setup.frontendOrigin),
      page.getByRole('link', { name: '[ Cancel ]' }).click(),
    ]);
    const answer = await relayAnswer(page, flow, 0);
    const relayed = flow.callbacks.at(-1);
    assert.equal(relayed.error, 'access_denied', JSON.stringify(relayed));
    assert.ok(relayed.state);
    assert.equal(answer.status, 401, JSON.stringify(answer));
    assert.equal(answer.body?.error?.code, 'provider_refused', JSON.stringify(answer));
    await waitFor('the page to clean its URL', async () => (await locationOf(page)) === setup.pageUrl);
    await assertSignedOut({ page, browser, setup });
    assert.deepEqual(idp.events.filter((e) => e.startsWith('grant.')), []);
  },
};

// ---------------------------------------------------------------- scenarios

const SAME_SITE_STARTUP = { shape: 'cross-origin same-site', cookie: 'sid; Path=/; HttpOnly; SameSite=Lax' };
const CROSS_SITE_STARTUP = {
  shape: 'cross-site',
  cookie: '__Host-sid; Path=/; Secure; HttpOnly; SameSite=None; Partitioned',
};

// The four shapes sign in through a provider with its default setting, as
// OpenID Connect Core says: email and name from UserInfo only, not in the ID
// token. `oidc-claims-in-id-token` is the other kind of provider.
const scenarios = {
  /** The SPA served by the backend; a public client (PKCE only). */
  'oidc-same-origin': () =>
    fullFlow({
      shape: 'same-origin',
      client: 'public',
      expected: LAX_DEV_COOKIE,
      startup: { shape: 'same-origin', cookie: 'sid; Path=/; HttpOnly; SameSite=Lax' },
    }),
  /** localhost:F -> localhost:B; a confidential client. */
  'oidc-cross-origin-same-site': () =>
    fullFlow({ shape: 'same-site', client: 'confidential', expected: LAX_DEV_COOKIE, startup: SAME_SITE_STARTUP }),
  /** localhost:F -> 127.0.0.1:B, third-party cookies blocked (this build's default). */
  'oidc-cross-site-third-party-cookies-blocked': () =>
    fullFlow({ shape: 'cross-site', client: 'confidential', expected: PARTITIONED_COOKIE, startup: CROSS_SITE_STARTUP }),
  /** The same with third-party cookies allowed; a public client. */
  'oidc-cross-site-third-party-cookies-allowed': () =>
    fullFlow({
      shape: 'cross-site',
      client: 'public',
      blockThirdPartyCookies: false,
      expected: PARTITIONED_COOKIE,
      startup: CROSS_SITE_STARTUP,
    }),
  /**
   * localhost:F -> localhost:B, a provider that puts email and name in the
   * ID token as well (`conformIdTokenClaims: false`), as Auth0, Google and
   * Keycloak do.
   */
  'oidc-claims-in-id-token': () =>
    fullFlow({
      shape: 'same-site',
      client: 'confidential',
      expected: LAX_DEV_COOKIE,
      startup: SAME_SITE_STARTUP,
      conformIdTokenClaims: false,
    }),
  'oidc-behind-proxy': () => behindProxy(),
  ...hostile,
};

await runScenario(scenarios);
