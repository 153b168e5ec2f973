// An OpenID provider for the gateway's tests: node_modules' oidc-provider (OpenID Certified), on
// loopback, configured by the JSON file named on the command line:
//   { "issuer", "port", "keys": [private JWKs, the first signs], "clients": [...],
//     "accounts": { login: claims }, "tokenClaims": { client_id: claims }, "audience" }
// Its development login and consent pages take any password; only listed logins have accounts.
// It prints "listening" once it accepts connections.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const provider = new Provider(settings.issuer, {
  clients: settings.clients,
  jwks: { keys: settings.keys },
  cookies: { keys: ['test-provider-cookie-key-not-a-secret'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'usual_name', 'name'],
    groups: ['groups'],
    organization: ['siret', 'organizational_unit'],
  },
  // As ProConnect does: the ID token names the person, the claims the scopes ask for are read
  // from the userinfo endpoint, as a JWT the provider signs (jwtUserinfo below).
  conformIdTokenClaims: true,
  scopes: ['openid', 'offline_access', 'api'],
  async findAccount(_ctx, sub) {
    const account = settings.accounts[sub];
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { sub, ...account }; } };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    jwtUserinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        scope: 'api',
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 300,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  async extraTokenClaims(_ctx, token) {
    return settings.tokenClaims[token.clientId] ?? {};
  },
  ttl: { AccessToken: 300, ClientCredentials: 300, IdToken: 300, Interaction: 600, Session: 3600, Grant: 3600 },
});
provider.on('server_error', (_ctx, error) => console.error('server_error', error));

const server = http.createServer(provider.callback());
server.listen(settings.port, '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
