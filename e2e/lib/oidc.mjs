// A real OIDC issuer for the end-to-end tests: oauth2-mock-server (discovery,
// JWKS, the client-credentials token endpoint), plus forgers of the bad
// tokens an attacker or a misconfigured client sends.
//
//   const idp = await startIssuer(t);
//   const tok = await idp.clientCredentials({ tenants: ['A'] });
//   startBatchql(t, { flags: idp.flags({ tenantClaim: 'tenants' }) });

import crypto from 'node:crypto';
import { OAuth2Server, JWKStore, Events } from 'oauth2-mock-server';

export const AUDIENCE = 'batchql-api';

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * Starts an issuer on a loopback port with one RS256 key (kid "key-1"). It is
 * stopped in t.after.
 */
export async function startIssuer(t) {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256', { kid: 'key-1' });
  await server.start(0, '127.0.0.1');
  t.after(() => server.stop());
  const url = server.issuer.url;
  let nextClaims = null;
  // Claims for tokens the token endpoint issues (client credentials).
  server.service.on(Events.BeforeTokenSigning, (token) => {
    token.payload.aud = AUDIENCE;
    if (nextClaims) Object.assign(token.payload, nextClaims);
  });

  const idp = {
    server,
    url,
    /** serve flags for this issuer. */
    flags({ tenantClaim = 'tenants', readScope } = {}) {
      const f = ['--oidc-issuer', url, '--oidc-audience', AUDIENCE];
      if (tenantClaim) f.push('--tenant-claim', tenantClaim);
      if (readScope) f.push('--read-scope', readScope);
      return f;
    },
    /**
     * A token from the real token endpoint (grant_type=client_credentials,
     * HTTP Basic client authentication), with extra claims such as
     * { tenants: ['A'], sub: 'svc-a' }.
     */
    async clientCredentials(claims = {}, scope = 'batchql:read') {
      nextClaims = claims;
      try {
        const res = await fetch(`${url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: 'Basic ' + Buffer.from('batchql-test-client:secret').toString('base64'),
          },
          body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
        });
        const body = await res.json();
        if (!res.ok) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
        return body.access_token;
      } finally {
        nextClaims = null;
      }
    },
    /** A token signed by the issuer's current key, claims set by edit. */
    async token(edit = () => {}, kid) {
      return server.issuer.buildToken({
        kid,
        scopesOrTransform: (header, payload) => {
          payload.aud = AUDIENCE;
          payload.sub = 'user-1';
          edit(payload, header);
        },
      });
    },
    /** Replaces the issuer's keys by one new key (the old ones are gone). */
    async rotate(kid) {
      const store = new JWKStore();
      await store.generate('RS256', { kid });
      Object.defineProperty(server.issuer, 'keys', { value: store, configurable: true });
    },
    /** Adds a key next to the current ones. */
    async addKey(kid) {
      await server.issuer.keys.generate('RS256', { kid });
    },
    /** The public key of kid as PEM (for the HS256 confusion attack). */
    publicPEM(kid = 'key-1') {
      const jwk = server.issuer.keys.toJSON().find((k) => k.kid === kid);
      return crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    },
    /** Claims of a good token, for forgeries. */
    goodClaims(extra = {}) {
      const now = Math.floor(Date.now() / 1000);
      return { iss: url, aud: AUDIENCE, sub: 'mallory', iat: now, nbf: now - 10, exp: now + 3600, ...extra };
    },
  };
  return idp;
}

/** An unsigned token: alg "none". */
export function forgeNone(claims, kid = 'key-1') {
  return `${b64url({ alg: 'none', typ: 'JWT', kid })}.${b64url(claims)}.`;
}

/**
 * HS256 signed with the issuer's public key as the HMAC secret: the
 * algorithm-confusion attack on verifiers that pick the algorithm from the
 * token header.
 */
export function forgeHS256(claims, secret, kid = 'key-1') {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT', kid })}.${b64url(claims)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** RS256 signed with a key the issuer never published, under its kid. */
export function forgeForeignKey(claims, kid = 'key-1') {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const input = `${b64url({ alg: 'RS256', typ: 'JWT', kid })}.${b64url(claims)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

/** A good token with one signature byte changed. */
export function tamperSignature(token) {
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

/** A good token whose payload was changed after signing (tenants widened). */
export function tamperPayload(token, edit) {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  edit(claims);
  return `${h}.${b64url(claims)}.${s}`;
}
