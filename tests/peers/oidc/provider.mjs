// A real OpenID Connect provider (panva's oidc-provider v9) for alm's
// integration tests. Everything is configured from the environment so the
// test harness can pick a free port and its own client credentials:
//   OIDC_PORT, OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
//   OIDC_REDIRECT_URIS (comma separated).
// It is for tests only: any login name with any password is accepted.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

function need(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number(need('OIDC_PORT'));
const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`;
const redirectUris = need('OIDC_REDIRECT_URIS').split(',').map((s) => s.trim()).filter(Boolean);

// A fresh signing key per run, so no key material lives in the repo and the
// library's well-known development key (and its warning) is not used.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'alm-test', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: need('OIDC_CLIENT_ID'),
    client_secret: need('OIDC_CLIENT_SECRET'),
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid email profile',
    // The provider accepts client_secret_post too for a client registered with
    // client_secret_basic: both are "client secret" methods to it.
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // PKCE (S256 is the only method v9 supports) for every client, not only public ones.
  pkce: { required: () => true },
  // Scope -> claims mapping; `email` and `profile` become supported scopes.
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // By default the id_token of a code flow carries only `sub` (the scope
  // claims go to userinfo). Tests want `email` right in the id_token.
  conformIdTokenClaims: false,
  // Any login is an account whose sub, email and name are the login itself.
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: sub, email_verified: true, name: sub };
      },
    };
  },
  jwks: { keys: [signingKey] },
  // Explicit lifetimes (seconds) only to keep the defaults' notices out of the log.
  ttl: { AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, IdToken: 3600, Interaction: 600, Session: 3600 },
  // Signed cookies with a per-run key. Cookies are only marked Secure when the
  // request is https, so they work over plain http on 127.0.0.1.
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // The built-in development login (fields `login`, `password`) and consent
  // pages are enough for tests; they work over http.
  features: { devInteractions: { enabled: true } },
  // A plain error page: the default one pulls a web font from the internet.
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>oidc error</title><pre>${JSON.stringify(out, null, 2)
      .replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`)}</pre>`;
  },
});

// Log every error the provider reports (bad client secret, bad redirect_uri,
// ...) so a failing test can read why from the log file.
for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error']) {
  provider.on(event, (_ctx, err) => console.error(`${event}: ${err.message}: ${err.error_description || ''} ${err.error_detail || ''}`,
    event === 'server_error' ? err.stack : ''));
}

// Listen on loopback only: this provider accepts any password.
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc provider ready at ${issuer}`);
});
