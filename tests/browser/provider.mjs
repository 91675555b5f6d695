// A real, certified OpenID provider on loopback for the OIDC browser
// scenarios: panva's `oidc-provider` (npm), with its development
// interactions (a login form that accepts any login and password, then a
// consent page) and RP-initiated logout. Nothing here is a mock: the
// scenarios drive Chromium through these very pages, and the generated
// project's backend discovers, exchanges codes and verifies ID tokens
// against it as it would against Auth0 or Keycloak.
//
//   import { startProvider } from './provider.mjs';
//   const idp = await startProvider({ clients: [...] });
//
// or, to try a project by hand:
//
//   node provider.mjs <port> <redirect_uri> [post_logout_redirect_uri]
//
// which serves a public client `spa` and a confidential client `app` (secret
// `app-secret`) registered for those URIs, and prints a line for each of its
// events (`provider: grant.success`, ...). tests/proxy.rs starts it so.
//
// The login form's "login" becomes the account id (`sub`); an account whose
// login looks like an email address has it as its `email`, and every account
// has the `name` "User <login>". PKCE (S256) is required of every client.
//
// Where those claims go is the provider's choice, and providers differ: by
// default (oidc-provider's `conformIdTokenClaims: true`, as OpenID Connect
// Core 5.4 says) the ID token of the code flow carries only `sub` and the
// protocol claims, and `email`, `email_verified` and `name` come from the
// UserInfo endpoint; with `conformIdTokenClaims: false` they are in the ID
// token too, as Auth0, Google and Keycloak put them. A relying party must
// work with both.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

import Provider from 'oidc-provider';

/**
 * Starts a provider on `127.0.0.1:<port>` (a free one by default) whose
 * issuer is `http://127.0.0.1:<port>`. `clients` are oidc-provider client
 * metadata. `conformIdTokenClaims` is oidc-provider's setting of that name:
 * left out, the provider's default (`true`: email and name only from
 * UserInfo); `false` puts them in the ID token as well.
 *
 * Resolves to `{ issuer, provider, events, idTokens, stop() }`: `events`
 * lists what the provider did (`grant.success`, `grant.error invalid_grant`,
 * `userinfo 200`, `end_session.success`, ...) for the scenarios to assert
 * on, and `idTokens` holds the payload of each ID token it issued.
 * `onEvent` is called with each event as it is recorded.
 */
export async function startProvider({ clients, port = 0, loginTtlSecs = 600, conformIdTokenClaims, onEvent }) {
  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;

  // A fresh signing key per provider: an ID token from one run is worthless
  // in the next, and no development key ships in the repository.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `k-${randomBytes(6).toString('hex')}`, use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // The development login and consent pages are the real thing for a
    // test: oidc-provider renders them and runs the same interaction
    // machinery a production login page would plug into.
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    // Of every client, confidential ones too: oidc-provider 9's default
    // requires PKCE of public clients only (8's required it of all), and a
    // backend that stopped sending it must fail here.
    pkce: { required: () => true },
    ...(conformIdTokenClaims === undefined ? {} : { conformIdTokenClaims }),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          const email = /^[^@\s]+@[^@\s]+$/.test(sub) ? sub : undefined;
          return { sub, name: `User ${sub}`, ...(email ? { email, email_verified: true } : {}) };
        },
      };
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: loginTtlSecs,
      Session: 3600,
      Grant: 3600,
    },
    // Errors shown in the browser as text a scenario can read.
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>provider error</title><pre id="provider-error">${escapeHtml(
        JSON.stringify(out),
      )}</pre>`;
    },
  });

  const events = [];
  const record = (event) => {
    events.push(event);
    onEvent?.(event);
  };
  for (const name of ['authorization.success', 'grant.success', 'end_session.success', 'interaction.ended']) {
    provider.on(name, () => record(name));
  }
  for (const name of ['authorization.error', 'grant.error', 'userinfo.error', 'end_session.error', 'server_error']) {
    provider.on(name, (ctx, error) => record(`${name} ${error.error ?? error.message}`));
  }

  // What the relying party was given: the payload of every ID token issued,
  // and a `userinfo <status>` event for every UserInfo request, so that a
  // scenario can tell which of the two carried email and name.
  const idTokens = [];
  provider.on('grant.success', (ctx) => {
    const token = ctx.body?.id_token;
    if (token) idTokens.push(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()));
  });
  const userinfoPath = provider.pathFor('userinfo');
  // Middleware added with `use` runs before oidc-provider's routes (v9 ends
  // the request in its route, so this one waits for it with `await next()`).
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === userinfoPath) record(`userinfo ${ctx.status}`);
  });

  server.on('request', provider.callback());
  return {
    issuer,
    provider,
    events,
    idTokens,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// `node provider.mjs <port> <redirect_uri> [post_logout_redirect_uri]`
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [port, redirectUri, postLogoutUri] = process.argv.slice(2);
  if (!port || !redirectUri) {
    console.error('usage: node provider.mjs <port> <redirect_uri> [post_logout_redirect_uri]');
    process.exit(2);
  }
  const registered = {
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: postLogoutUri ? [postLogoutUri] : [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  };
  const { issuer } = await startProvider({
    port: Number(port),
    onEvent: (event) => console.log(`provider: ${event}`),
    clients: [
      { client_id: 'spa', token_endpoint_auth_method: 'none', ...registered },
      { client_id: 'app', client_secret: 'app-secret', ...registered },
    ],
  });
  console.log(`OpenID provider at ${issuer} (clients: spa, public; app, secret app-secret)`);
}
