package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// Leeway is the clock skew allowed on exp and nbf.
const Leeway = 60 * time.Second

const (
	defaultRetry      = 5 * time.Second  // between discovery attempts, and between JWKS refetches
	defaultHTTPTimout = 10 * time.Second // per discovery or JWKS request
)

// Error is why a request is not authenticated. Its message is safe to show
// to the client: it never contains the token.
type Error struct {
	Status int    // 401, 403 or 503
	Code   string // UNAUTHENTICATED, FORBIDDEN or INTERNAL_SERVER_ERROR
	Msg    string
	// bearer is the RFC 6750 error code for WWW-Authenticate: "" (no token
	// sent), "invalid_token" or "insufficient_scope".
	bearer string
	scope  string // the missing scope, for insufficient_scope
}

func (e *Error) Error() string { return e.Msg }

// Error codes (contract §6).
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeRateLimited     = "RATE_LIMITED"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
)

// ErrNoToken is returned when a request carries no bearer token. Its
// challenge is every 401's, Bearer error="invalid_token" (contract §11),
// although RFC 6750 §3.1 would leave the error code out here: one shape
// for clients to handle.
var ErrNoToken = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, bearer: "invalid_token", Msg: "authentication required: send Authorization: Bearer <token>"}

func invalid(format string, a ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, bearer: "invalid_token",
		Msg: "invalid bearer token: " + fmt.Sprintf(format, a...)}
}

func unavailable(msg string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeInternal,
		Msg: "cannot verify tokens now: " + msg + "; retry later"}
}

func forbidden(scope string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, bearer: "insufficient_scope", scope: scope,
		Msg: fmt.Sprintf("the token lacks the scope %q", scope)}
}

// Option changes a Verifier; for tests and for the server's wiring.
type Option func(*Verifier)

// WithHTTPClient sets the client for discovery and JWKS requests (default: a
// client with a 10 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(v *Verifier) { v.client = c } }

// WithClock sets the clock for exp, nbf and the retry intervals.
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(v *Verifier) { v.log = l } }

// WithRetryInterval sets the least time between discovery attempts and
// between JWKS refetches for unknown key ids (default 5 s).
func WithRetryInterval(d time.Duration) Option { return func(v *Verifier) { v.retry = d } }

// WithTokenCache sets how many verified tokens are remembered (default
// 10000; 0 turns the cache off).
func WithTokenCache(n int) Option { return func(v *Verifier) { v.cacheSize = n } }

// Verifier verifies bearer tokens of one issuer and audience.
type Verifier struct {
	cfg       Config
	client    *http.Client
	now       func() time.Time
	log       *slog.Logger
	retry     time.Duration
	cacheSize int
	cache     *tokenCache

	ready atomic.Pointer[discovered] // nil until discovered

	mu          sync.Mutex // serializes discovery attempts
	lastAttempt time.Time
	lastErr     error
}

// discovered is what discovery yields.
type discovered struct {
	oidc *oidc.IDTokenVerifier
	keys *keySet
}

// New returns a Verifier for cfg, which must be enabled and valid. It does no
// I/O: discovery happens on first use (see the package documentation).
func New(cfg Config, opts ...Option) (*Verifier, error) {
	if !cfg.Enabled() {
		return nil, errors.New("auth: no --oidc-issuer configured")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{
		cfg:       cfg,
		client:    &http.Client{Timeout: defaultHTTPTimout},
		now:       time.Now,
		log:       slog.Default(),
		retry:     defaultRetry,
		cacheSize: 10000,
	}
	for _, o := range opts {
		o(v)
	}
	v.cache = newTokenCache(v.cacheSize)
	return v, nil
}

// Config returns the configuration v was made with.
func (v *Verifier) Config() Config { return v.cfg }

// Ready discovers the issuer and loads its keys if that has not happened yet
// and the last attempt is at least the retry interval ago. It returns nil once
// tokens can be verified. Serve may call it at startup to log the outcome, and
// /readyz to report it.
func (v *Verifier) Ready(ctx context.Context) error {
	_, err := v.verifier(ctx)
	return err
}

func (v *Verifier) verifier(ctx context.Context) (*discovered, error) {
	if d := v.ready.Load(); d != nil {
		return d, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d := v.ready.Load(); d != nil {
		return d, nil
	}
	now := v.now()
	if !v.lastAttempt.IsZero() && now.Sub(v.lastAttempt) < v.retry {
		return nil, v.lastErr
	}
	v.lastAttempt = now
	// Holding mu during discovery makes concurrent requests wait for this one
	// attempt instead of starting their own; the client timeout bounds it. A
	// request that gives up must not cancel the attempt for the others.
	d, err := v.discover(context.WithoutCancel(ctx))
	if err != nil {
		v.lastErr = fmt.Errorf("oidc discovery of %s: %w", v.cfg.Issuer, err)
		v.log.Warn("oidc: issuer not reachable; tokens cannot be verified until it is", "issuer", v.cfg.Issuer, "err", err, "retry", v.retry)
		return nil, v.lastErr
	}
	v.ready.Store(d)
	v.lastErr = nil
	v.log.Info("oidc: issuer discovered", "issuer", v.cfg.Issuer)
	return d, nil
}

func (v *Verifier) discover(ctx context.Context) (*discovered, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, v.client), v.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil {
		return nil, err
	}
	if doc.JWKSURI == "" {
		return nil, errors.New("discovery document has no jwks_uri")
	}
	ks := &keySet{url: doc.JWKSURI, client: v.client, minRefetch: v.retry, now: v.now, log: v.log, onChange: v.cache.clear}
	if _, err := ks.refetch(ctx); err != nil {
		return nil, err
	}
	ov := oidc.NewVerifier(v.cfg.Issuer, ks, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: allowedAlgNames(),
		SkipExpiryCheck:      true, // checked below with Leeway on both exp and nbf
	})
	return &discovered{oidc: ov, keys: ks}, nil
}

// claims are the claims Verify reads beyond what go-oidc checks.
type claims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Expiry    *json.Number    `json:"exp"`
	NotBefore *json.Number    `json:"nbf"`
	Scope     json.RawMessage `json:"scope"`
	Scp       json.RawMessage `json:"scp"`
}

// scopes reads the scope claim, or scp when scope is absent; each may be a
// space-separated string or an array of strings.
func (cl *claims) scopes() ([]string, error) {
	name, raw := "scope", cl.Scope
	if len(raw) == 0 || string(raw) == "null" {
		name, raw = "scp", cl.Scp
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.Fields(s), nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list, nil
	}
	return nil, invalid("claim %q must be a string or an array of strings", name)
}

// Verify checks a raw JWT and returns its caller. A failure is an *Error.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Caller, error) {
	now := v.now()
	if c := v.cache.get(raw, now); c != nil {
		return c, nil
	}
	d, err := v.verifier(ctx)
	if err != nil {
		return nil, unavailable("the token issuer is unreachable")
	}
	tok, err := d.oidc.Verify(ctx, raw)
	if err != nil {
		return nil, v.explain(ctx, d.keys, raw, err)
	}
	var cl claims
	if err := tok.Claims(&cl); err != nil {
		return nil, invalid("claims: %v", err)
	}
	exp, err := numericDate("exp", cl.Expiry)
	if err != nil {
		return nil, err
	}
	if exp.IsZero() {
		return nil, invalid("no exp claim")
	}
	if now.After(exp.Add(Leeway)) {
		return nil, invalid("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	nbf, err := numericDate("nbf", cl.NotBefore)
	if err != nil {
		return nil, err
	}
	if now.Add(Leeway).Before(nbf) {
		return nil, invalid("not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	c := &Caller{Subject: cl.Subject, Expiry: exp, tenantFilter: v.cfg.TenantClaim != ""}
	if c.Scopes, err = cl.scopes(); err != nil {
		return nil, err
	}
	if c.tenantFilter {
		if c.Tenants, c.HasTenantClaim, err = tenants(tok, v.cfg.TenantClaim); err != nil {
			return nil, err
		}
	}
	v.cache.put(raw, c, exp.Add(Leeway), now)
	return c, nil
}

// explain turns a go-oidc failure into a message for the client. go-oidc
// formats its errors with %v, so the reason is recovered from the key set's
// typed error or, once the signature is known to be good, from the claims.
func (v *Verifier) explain(ctx context.Context, keys *keySet, raw string, err error) *Error {
	if _, perr := jose.ParseSigned(raw, allowedAlgs); perr != nil {
		if alg, ok := headerAlg(raw); ok && !slices.Contains(allowedAlgNames(), alg) {
			return invalid("algorithm %q not allowed (want one of %s)", clip(alg, 16), strings.Join(allowedAlgNames(), ", "))
		}
		return invalid("malformed token")
	}
	payload, serr := keys.VerifySignature(ctx, raw)
	if serr != nil {
		var ve *verifyError
		if errors.As(serr, &ve) && ve.unavailable {
			return unavailable(ve.msg)
		}
		return invalid("%v", serr)
	}
	var cl claims
	if json.Unmarshal(payload, &cl) != nil {
		return invalid("claims are not a JSON object")
	}
	if cl.Issuer != v.cfg.Issuer {
		return invalid("issuer %q is not %q", clip(cl.Issuer, 128), v.cfg.Issuer)
	}
	var aud []string
	if json.Unmarshal(cl.Audience, &aud) != nil {
		var one string
		_ = json.Unmarshal(cl.Audience, &one)
		aud = []string{one}
	}
	if !slices.Contains(aud, v.cfg.Audience) {
		return invalid("audience does not contain %q", v.cfg.Audience)
	}
	v.log.Debug("oidc: token refused", "err", err)
	return invalid("claims are malformed (iss, sub, aud, exp, nbf and iat must have their standard JSON types)")
}

// headerAlg reads alg from a compact JWS header without verifying anything.
func headerAlg(raw string) (string, bool) {
	h, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", false
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &hdr) != nil {
		return "", false
	}
	return hdr.Alg, true
}

func numericDate(name string, n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, invalid("%s is not a number", name)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

// tenants reads the tenant claim: absent or null means no claim; otherwise it
// must be an array of strings.
func tenants(tok *oidc.IDToken, claim string) ([]string, bool, error) {
	var all map[string]json.RawMessage
	if err := tok.Claims(&all); err != nil {
		return nil, false, invalid("claims: %v", err)
	}
	raw, ok := all[claim]
	if !ok || string(raw) == "null" {
		return nil, false, nil
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, true, invalid("claim %q must be a JSON array of tenant ids", claim)
	}
	slices.Sort(ids)
	return slices.Compact(ids), true, nil
}
