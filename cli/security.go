package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"

	"github.com/batchql/batchql/auth"
	"github.com/batchql/batchql/web"
)

// securityFlags are serve's contract §11 flags: OIDC, scopes, tenants,
// CORS and the rate limit.
type securityFlags struct {
	issuer, audience, readScope, importScope, tenantClaim, corsOrigins *string
	rateLimit                                                          *float64
	fs                                                                 *flagSet
}

func addSecurityFlags(fs *flagSet) securityFlags {
	return securityFlags{
		issuer:      fs.String("oidc-issuer", "", "require an OIDC bearer token (`URL` of the issuer, as in the tokens' iss; https, or http on localhost) on /query and /import; discovery and JWKS come from it"),
		audience:    fs.String("oidc-audience", "", "the `audience` tokens must carry in aud (required with --oidc-issuer)"),
		readScope:   fs.String("read-scope", "", "the `scope` a token needs to query (from its scope or scp claim); empty: any valid token reads"),
		importScope: fs.String("import-scope", auth.DefaultImportScope, "the `scope` a token needs for POST /import"),
		tenantClaim: fs.String("tenant-claim", "", "the token claim (a JSON array) with the caller's tenant `name`s: Camunda 7 batches of other tenants are invisible (batches without a tenant stay visible); empty: every tenant"),
		corsOrigins: fs.String("cors-origins", "", "let web apps on these `origins` call /query from a browser: comma-separated exact origins (https://app.example.com,http://localhost:3000) or *; also the WebSocket origin check"),
		rateLimit:   rateFlag(fs, "rate-limit", "allow each caller (token subject, else client address) `n` requests per second, bursts of 2n; over it 429 with Retry-After; 0: no limit"),
		fs:          fs,
	}
}

// rateFlag is a non-negative, finite float flag.
func rateFlag(fs *flagSet, name, usage string) *float64 {
	v := 0.0
	p := &v
	fs.Var(value{func() string { return strconv.FormatFloat(*p, 'g', -1, 64) }, func(s string) error {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return errors.New("not a number")
		}
		if f < 0 {
			return errors.New("must not be negative")
		}
		*p = f
		return nil
	}}, name, usage)
	return p
}

// config is the auth configuration the flags give.
func (s securityFlags) config() auth.Config {
	c := auth.Config{Issuer: *s.issuer, Audience: *s.audience, ReadScope: *s.readScope, TenantClaim: *s.tenantClaim}
	if s.fs.isSet("import-scope") {
		c.ImportScope = *s.importScope
	}
	return c
}

// enabled reports whether OIDC authentication is on.
func (s securityFlags) enabled() bool { return *s.issuer != "" }

// check validates the flags without I/O, naming the wrong one.
func (s securityFlags) check() error {
	if err := s.config().Validate(); err != nil {
		return err
	}
	_, err := auth.ParseCORS(*s.corsOrigins)
	return err
}

// security builds the guards. With an issuer, discovery starts in the
// background: the server serves at once, and until the issuer answers,
// guarded requests get 503 with Retry-After.
func (s securityFlags) security(ctx context.Context, log *slog.Logger) (web.Security, *auth.Verifier, error) {
	var sec web.Security
	cors, err := auth.ParseCORS(*s.corsOrigins)
	if err != nil {
		return sec, nil, err
	}
	if *s.corsOrigins != "" {
		sec.CORS = cors
	}
	sec.Limiter = auth.NewRateLimiter(*s.rateLimit)
	if !s.enabled() {
		return sec, nil, nil
	}
	cfg := s.config()
	v, err := auth.New(cfg, auth.WithLogger(log))
	if err != nil {
		return sec, nil, fmt.Errorf("oidc: %w", err)
	}
	sec.Verifier, sec.ReadScope = v, cfg.ReadScope
	go v.Ready(ctx) // logs the outcome; a failure is retried by requests
	return sec, v, nil
}
