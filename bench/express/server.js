// The Express yardstick of the benchmark (see ../run and the README's
// "Benchmark" section): the stack of the guide this project began from,
// Express 5 with `cors` and `express-session`, answering the same routes with
// the same payloads as the generated project. Never part of a generated
// project (`bench` is in cargo-generate.toml's `ignore`).
//
//   GET  /api/health        200 {"status":"ok"}
//   POST /api/auth/signup   {"email","password"} -> 201 {"user":{"id","email"}}, signed in
//   POST /api/auth/login    {"email","password"} -> 200 {"user":{...}}, new session id;
//                           401, one answer for unknown email and wrong password
//   GET  /api/auth/session  200 {"user":{...}} or 401, both with Cache-Control: no-store
//   POST /api/auth/logout   204, the session destroyed and the cookie cleared
//
// Errors are JSON, {"error":{"code","message"}}, with the project's codes.
// Users live in memory; passwords are hashed with Node's built-in scrypt, so
// no npm package builds native code.
//
// Environment: PORT (default 8080), HOST (default 127.0.0.1),
// FRONTEND_ORIGIN (default http://localhost:5173), SESSION_SECRET (default:
// random at start-up, so sessions do not outlive the process anyway).
// It logs one line at start-up and nothing per request.
'use strict';

const crypto = require('node:crypto');
const { promisify } = require('node:util');
const express = require('express');
const cors = require('cors');
const session = require('express-session');

const port = Number(process.env.PORT || 8080);
const host = process.env.HOST || '127.0.0.1';
const frontendOrigin = process.env.FRONTEND_ORIGIN || 'http://localhost:5173';
const secret = process.env.SESSION_SECRET || crypto.randomBytes(32).toString('hex');

// ------------------------------------------------------------------ passwords
// scrypt with one of OWASP's recommended settings (N=2^15, r=8, p=3: 32 MiB
// per hash). It runs on libuv's thread pool, off the event loop. The project
// uses Argon2id (19 MiB, 2 passes); the two are not the same work, which is
// one reason login timings are not compared (see ../run).
const scrypt = promisify(crypto.scrypt);
const SCRYPT = { N: 2 ** 15, r: 8, p: 3, maxmem: 64 * 1024 * 1024 };
const KEY_LEN = 32;

async function hashPassword(password) {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, SCRYPT);
  return { salt, key };
}

async function verifyPassword(password, stored) {
  const key = await scrypt(password, stored.salt, KEY_LEN, SCRYPT);
  return crypto.timingSafeEqual(key, stored.key);
}

// An unknown email is checked against this, so both failures cost the same.
const dummyHash = hashPassword('not a password anyone has');

// ------------------------------------------------------------------ users
const usersByEmail = new Map();
const usersById = new Map();
let nextId = 1;

const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;
const MAX_EMAIL_LEN = 254;

// Trims and lowercases an email and checks its basic shape, as the project
// does; null when it cannot be an address.
function normaliseEmail(raw) {
  if (typeof raw !== 'string') return null;
  const email = raw.trim().toLowerCase();
  if (email.length > MAX_EMAIL_LEN || /[\s\p{Cc}]/u.test(email)) return null;
  const at = email.indexOf('@');
  if (at <= 0) return null;
  const domain = email.slice(at + 1);
  if (!domain.includes('.') || domain.startsWith('.') || domain.endsWith('.') || domain.includes('@')) {
    return null;
  }
  return email;
}

const publicUser = (user) => ({ user: { id: user.id, email: user.email } });

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
const unauthenticated = () => new ApiError(401, 'unauthenticated', 'not signed in');
const wrongCredentials = () =>
  new ApiError(401, 'invalid_credentials', 'email or password is incorrect');

// ------------------------------------------------------------------ app
const app = express();
// Express's defaults (ETag on bodies, X-Powered-By) are left as a reader of
// the guide gets them.

// CORS exactly as the guide configures it: one exact origin, credentials.
// Everything else is the `cors` package's default: allowed request headers
// are reflected from the preflight, no max-age, and a preflight is answered
// 204 (the project and the baseline answer 200).
app.use(
  cors({
    origin: frontendOrigin,
    credentials: true, // Required for cookies to be sent in requests.
  }),
);

app.use(express.json());

// The session store: express-session's default MemoryStore, named here so
// the choice is visible. The guide names no store, so this is what its
// reader gets. express-session documents it as not for production: it lives
// in one process, is lost on restart, and only drops an expired session
// when that session is read again. It is also the cheapest store there is
// (no I/O, no network), so these figures are the most Express with sessions
// can do on this route set; the project keeps its sessions in SQLite. A
// persistent store would be fairer, but the SQLite stores for
// express-session need native modules whose install downloads binaries,
// which this workplace cannot fetch, and Node 20 has no built-in SQLite.
// Mounted for every route, as a guide reader's app.use() does: a request
// without a session cookie (W3's health check) still gets a fresh, unsaved
// session object with a random id. Measured here on /api/health: Express
// alone about 5,300 req/s, with cors 5,200, with this 3,300.
app.use(
  session({
    name: 'sid', // the project's cookie name over plain http
    secret,
    store: new session.MemoryStore(),
    resave: false, // read-only requests do not re-save the session...
    saveUninitialized: false, // ...and a visitor who never signs in gets none
    // (express-session still calls the store's touch() on every request that
    // carries a session, to slide its expiry: for MemoryStore, a
    // JSON.stringify of the session.)
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: false, // plain http on localhost, as in the benchmark
      path: '/',
      maxAge: 86400 * 1000, // the project's default SESSION_INACTIVITY_SECS
    },
  }),
);

// Signs `user` in under a new session id, so an id planted before login
// (session fixation) is worthless afterwards.
async function signIn(req, user) {
  await promisify(req.session.regenerate.bind(req.session))();
  req.session.userId = user.id;
  await promisify(req.session.save.bind(req.session))();
}

function readCredentials(body) {
  const input = body && typeof body === 'object' ? body : {};
  if (typeof input.email !== 'string' || typeof input.password !== 'string') {
    throw new ApiError(422, 'invalid_input', 'email and password are required strings');
  }
  return input;
}

app.get('/api/health', (req, res) => {
  res.json({ status: 'ok' });
});

app.post('/api/auth/signup', async (req, res) => {
  const input = readCredentials(req.body);
  const email = normaliseEmail(input.email);
  if (!email) throw new ApiError(422, 'invalid_input', 'email is not a valid address');
  const chars = [...input.password].length;
  if (chars < PASSWORD_MIN || chars > PASSWORD_MAX) {
    throw new ApiError(422, 'invalid_input', `password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`);
  }
  const hash = await hashPassword(input.password);
  if (usersByEmail.has(email)) {
    throw new ApiError(409, 'email_taken', 'an account with this email exists');
  }
  const user = { id: nextId++, email, hash };
  usersByEmail.set(email, user);
  usersById.set(user.id, user);
  await signIn(req, user);
  res.status(201).json(publicUser(user));
});

app.post('/api/auth/login', async (req, res) => {
  const input = readCredentials(req.body);
  const email = normaliseEmail(input.email);
  // Over-long input cannot match any account: refuse it before hashing.
  if (!email || [...input.password].length > PASSWORD_MAX) throw wrongCredentials();
  const user = usersByEmail.get(email);
  const matches = await verifyPassword(input.password, user ? user.hash : await dummyHash);
  if (!user || !matches) throw wrongCredentials();
  await signIn(req, user);
  res.json(publicUser(user));
});

app.get('/api/auth/session', (req, res) => {
  res.set('Cache-Control', 'no-store');
  const user = req.session.userId !== undefined && usersById.get(req.session.userId);
  if (!user) throw unauthenticated();
  res.json(publicUser(user));
});

app.post('/api/auth/logout', async (req, res) => {
  await promisify(req.session.destroy.bind(req.session))();
  res.clearCookie('sid', { path: '/', httpOnly: true, sameSite: 'lax', secure: false });
  res.status(204).end();
});

app.use((req, res) => {
  res.status(404).json({ error: { code: 'not_found', message: 'no such resource' } });
});

// Every error, thrown or rejected (Express 5 passes a handler's rejected
// promise here), leaves as JSON; the body parser's errors keep their 4xx.
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  if (err instanceof ApiError) {
    res.status(err.status).json({ error: { code: err.code, message: err.message } });
  } else if (err.status >= 400 && err.status < 500) {
    const code = { 413: 'payload_too_large', 415: 'unsupported_media_type' }[err.status] || 'bad_request';
    res.status(err.status).json({ error: { code, message: err.message } });
  } else {
    console.error(err);
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  }
});

// Listening once the dummy hash exists, so start-up's work is done before
// the first request, as in the project.
dummyHash.then(() => {
  app.listen(port, host, (err) => {
    if (err) throw err;
    console.error(`express listening on http://${host}:${port} (frontend origin ${frontendOrigin})`);
  });
});
