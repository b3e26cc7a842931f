// Package auth decides who the caller of batchql is and what the caller may do
// (contract §11), and guards the HTTP surface that browsers and clients reach.
//
// # Who: OIDC bearer tokens
//
// A [Verifier] checks `Authorization: Bearer <JWT>` against one OpenID Connect
// issuer (--oidc-issuer) and audience (--oidc-audience):
//
//   - The issuer's discovery document and JWKS are fetched lazily: [New] does
//     no I/O, the first request (or a call to [Verifier.Ready]) discovers, and a
//     failed discovery is retried at most every 5 s. A server that starts while
//     the issuer is down therefore starts; until discovery succeeds, guarded
//     endpoints answer 503 with Retry-After and code INTERNAL_SERVER_ERROR
//     (never 401, which would make clients throw away good tokens; §6 has no
//     code of its own for this). /readyz can report [Verifier.Ready].
//     A malformed issuer URL is a configuration error at startup
//     ([Config.Validate]).
//   - Keys come only from the issuer's JWKS: header parameters such as jku, jwk
//     and x5u are never used. The JWKS is cached and refetched when a token
//     names a kid that is not cached, at most once per 5 s (go-oidc's
//     RemoteKeySet refetches on every unknown kid and every failed signature,
//     with only in-flight deduplication, so a flood of random kids would keep
//     one request against the issuer running at all times).
//   - Asymmetric algorithms only: RS256/384/512, PS256/384/512, ES256/384/512,
//     EdDSA. "none" and HMAC are refused before any key is looked at.
//   - iss must equal the issuer, aud (a string or a list) must contain the
//     audience, exp and nbf are checked with 60 s leeway; exp is required.
//     A JWKS key with an alg only verifies tokens of that alg.
//   - Verified tokens are cached by SHA-256 digest until exp plus leeway
//     (bounded; cleared when the JWKS changes): a hit costs about 1 µs
//     against 200-300 µs for a verification (BenchmarkVerify).
//
// # What: scopes and tenants
//
// A verified token becomes a [Caller] (subject, scopes from `scope` or `scp`,
// tenants from --tenant-claim) that [Guard] puts into the request context;
// [FromContext] reads it back. [Caller.TenantScope] says which Camunda 7
// batches the caller may see, as data the storage layer can turn into index
// prefixes. Without authentication there is no Caller and [ScopeOf] of the
// context is "everything".
//
// # HTTP guards
//
// [Guard] answers 401/403/503 with RFC 6750 WWW-Authenticate headers and
// GraphQL-shaped bodies; [Verifier.AuthenticateInit] does the same check for a
// WebSocket connection_init payload. [CORS] implements --cors-origins and the
// WebSocket origin check; [RateLimiter] implements --rate-limit per caller.
//
// Order in the router, outermost first: CORS (so that 401 and 429 answers are
// readable by browsers, and preflights need no token), Guard, RateLimiter
// (keyed by the Caller's subject, which Guard has put into the context), then
// the GraphQL or import handler.
//
// Tokens are never logged, never put into error messages, and never stored
// except as a SHA-256 digest in the bounded cache of verified tokens.
package auth
