package auth

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerify(t *testing.T) {
	is := newIssuer(t, rsaKey1, ecKey, edKey)
	keys(t)
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&rsaKey1.priv.(*rsa.PrivateKey).PublicKey))})

	// An attacker's JWKS that a jku header points to; it must never be asked.
	var attackerHits atomic.Int32
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{evilKey.jwk()}})
	}))
	t.Cleanup(attacker.Close)

	type tc struct {
		name  string
		token func(clk *clock) string
		want  string // "" accepted, else a substring of the error
	}
	with := func(edits ...func(map[string]any)) func(*clock) map[string]any {
		return func(clk *clock) map[string]any { return is.claimsFor(clk, edits...) }
	}
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	rel := func(k string, d time.Duration) func(*clock) func(map[string]any) {
		return func(clk *clock) func(map[string]any) { return set(k, clk.now().Add(d).Unix()) }
	}
	signed := func(k testKey, edits ...func(*clock) func(map[string]any)) func(*clock) string {
		return func(clk *clock) string {
			var es []func(map[string]any)
			for _, e := range edits {
				es = append(es, e(clk))
			}
			return sign(t, k, with(es...)(clk))
		}
	}
	fixed := func(e func(map[string]any)) func(*clock) func(map[string]any) {
		return func(*clock) func(map[string]any) { return e }
	}
	cases := []tc{
		{"RS256 accepted", signed(rsaKey1), ""},
		{"ES256 accepted", signed(ecKey), ""},
		{"EdDSA accepted", signed(edKey), ""},
		{"expired beyond leeway", signed(rsaKey1, rel("exp", -61*time.Second)), "expired at"},
		{"expired within leeway", signed(rsaKey1, rel("exp", -59*time.Second)), ""},
		{"no exp", signed(rsaKey1, fixed(func(c map[string]any) { delete(c, "exp") })), "no exp"},
		{"nbf beyond leeway", signed(rsaKey1, rel("nbf", 61*time.Second)), "not valid before"},
		{"nbf within leeway", signed(rsaKey1, rel("nbf", 59*time.Second)), ""},
		{"wrong aud", signed(rsaKey1, fixed(set("aud", "other-api"))), `audience does not contain "batchql-api"`},
		{"aud list containing ours", signed(rsaKey1, fixed(set("aud", []string{"other", testAudience}))), ""},
		{"aud list without ours", signed(rsaKey1, fixed(set("aud", []string{"other", "more"}))), "audience does not contain"},
		{"wrong iss", signed(rsaKey1, fixed(set("iss", "https://evil.example.com"))), `issuer "https://evil.example.com" is not`},
		{"bad signature", func(clk *clock) string {
			h, p, sig := cut3(sign(t, rsaKey1, is.claimsFor(clk)))
			b := must(base64.RawURLEncoding.DecodeString(sig))
			b[len(b)/2] ^= 0x01 // flip one bit of the signature
			return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(b)
		}, "token signature is invalid"},
		{"payload swapped under a valid signature", func(clk *clock) string {
			good := sign(t, rsaKey1, is.claimsFor(clk))
			other := sign(t, rsaKey1, is.claimsFor(clk, set("sub", "mallory")))
			h, _, _ := cut3(good)
			_, p, _ := cut3(other)
			_, _, s := cut3(good)
			return h + "." + p + "." + s
		}, "signature is invalid"},
		{"alg none", func(clk *clock) string {
			return unsigned(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "rsa-1"}, is.claimsFor(clk))
		}, `algorithm "none" not allowed`},
		{"HS256 signed with the public key", func(clk *clock) string {
			return sign(t, testKey{"rsa-1", jose.HS256, pemPub}, is.claimsFor(clk))
		}, `algorithm "HS256" not allowed`},
		{"key not in the JWKS, same kid", signed(evilKey), "signature is invalid"},
		{"known kid, other algorithm than the key's", signed(testKey{"rsa-1", jose.PS256, rsaKey1.priv}), "signature is invalid"},
		{"key not in the JWKS, unknown kid", signed(testKey{"nope", jose.RS256, evilKey.priv}), `unknown key id "nope"`},
		{"jku header pointing to an attacker JWKS", func(clk *clock) string {
			return sign(t, testKey{"attacker", jose.RS256, evilKey.priv}, is.claimsFor(clk), func(o *jose.SignerOptions) {
				o.WithHeader("jku", attacker.URL)
			})
		}, `unknown key id "attacker"`},
		{"jwk header embedding the attacker key", func(clk *clock) string {
			return sign(t, testKey{"", jose.RS256, evilKey.priv}, is.claimsFor(clk), func(o *jose.SignerOptions) {
				o.EmbedJWK = true
			})
		}, "no key of the issuer verifies"},
		{"not a JWT", func(*clock) string { return "abc.def" }, "malformed token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			v := newVerifier(t, is, clk)
			caller, err := v.Verify(context.Background(), c.token(clk))
			if c.want == "" {
				require.NoError(t, err)
				assert.Equal(t, "alice", caller.Subject)
				assert.Equal(t, []string{"openid", "batchql:import"}, caller.Scopes)
				return
			}
			require.Error(t, err)
			var ae *Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, http.StatusUnauthorized, ae.Status)
			assert.Equal(t, CodeUnauthenticated, ae.Code)
			assert.Contains(t, ae.Msg, c.want)
			assert.Nil(t, caller)
		})
	}
	assert.Zero(t, attackerHits.Load(), "the jku URL must never be fetched")
}

func cut3(tok string) (string, string, string) {
	var parts [3]string
	i := 0
	for j := 0; j < len(tok); j++ {
		if tok[j] == '.' {
			i++
			continue
		}
		parts[i] += string(tok[j])
	}
	return parts[0], parts[1], parts[2]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestVerifyKeyRotation(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()
	old := sign(t, rsaKey1, is.claimsFor(clk))
	_, err := v.Verify(ctx, old)
	require.NoError(t, err)
	require.EqualValues(t, 1, is.jwksHits.Load())

	// The issuer rotates: rsa-2 in, rsa-1 out. A token with the new kid makes
	// the verifier refetch, without a restart.
	is.setKeys(rsaKey2)
	clk.add(6 * time.Second)
	fresh := sign(t, rsaKey2, is.claimsFor(clk))
	c, err := v.Verify(ctx, fresh)
	require.NoError(t, err, "a newly rotated-in key must be picked up")
	assert.Equal(t, "alice", c.Subject)
	assert.EqualValues(t, 2, is.jwksHits.Load())

	// The rotated-away key is refused, also for the token verified (and
	// cached) before the rotation.
	_, err = v.Verify(ctx, old)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown key id "rsa-1"`)
	_, err = v.Verify(ctx, sign(t, rsaKey1, is.claimsFor(clk, func(m map[string]any) { m["sub"] = "bob" })))
	require.Error(t, err)
}

func TestVerifyUnknownKidFloodIsThrottled(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()
	require.NoError(t, v.Ready(ctx))
	require.EqualValues(t, 1, is.jwksHits.Load())

	for i := range 50 {
		tok := sign(t, testKey{fmt.Sprintf("random-%d", i), jose.RS256, evilKey.priv}, is.claimsFor(clk))
		_, err := v.Verify(ctx, tok)
		require.Error(t, err)
	}
	assert.EqualValues(t, 1, is.jwksHits.Load(), "unknown kids within the retry interval must not refetch")

	clk.add(6 * time.Second)
	for i := range 50 {
		tok := sign(t, testKey{fmt.Sprintf("again-%d", i), jose.RS256, evilKey.priv}, is.claimsFor(clk))
		_, err := v.Verify(ctx, tok)
		require.Error(t, err)
	}
	assert.EqualValues(t, 2, is.jwksHits.Load(), "one refetch per retry interval")

	// A bad signature under a known kid is not a reason to refetch.
	clk.add(6 * time.Second)
	_, err := v.Verify(ctx, sign(t, evilKey, is.claimsFor(clk)))
	require.Error(t, err)
	assert.EqualValues(t, 2, is.jwksHits.Load())
}

func TestVerifyIssuerDownAtStartup(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	is.setDown(true)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()
	tok := sign(t, rsaKey1, is.claimsFor(clk))

	_, err := v.Verify(ctx, tok)
	var ae *Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.Status, "issuer down is not the token's fault")
	require.Error(t, v.Ready(ctx))
	assert.EqualValues(t, 1, is.discovery.Load(), "no second attempt within the retry interval")

	is.setDown(false)
	require.Error(t, v.Ready(ctx), "still within the retry interval")
	clk.add(6 * time.Second)
	require.NoError(t, v.Ready(ctx))
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err)
	assert.EqualValues(t, 2, is.discovery.Load())

	// Once discovered, the issuer going down does not stop known keys.
	is.setDown(true)
	_, err = v.Verify(ctx, sign(t, rsaKey1, is.claimsFor(clk, func(m map[string]any) { m["sub"] = "carol" })))
	require.NoError(t, err)
}

func TestVerifyScopes(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	cases := []struct {
		name   string
		claims func(map[string]any)
		want   []string
		err    string
	}{
		{"scope string", func(m map[string]any) { m["scope"] = "a  b c" }, []string{"a", "b", "c"}, ""},
		{"scp array", func(m map[string]any) { delete(m, "scope"); m["scp"] = []string{"x", "y"} }, []string{"x", "y"}, ""},
		{"scp string (Azure)", func(m map[string]any) { delete(m, "scope"); m["scp"] = "x y" }, []string{"x", "y"}, ""},
		{"scope wins over scp", func(m map[string]any) { m["scope"] = "a"; m["scp"] = []string{"x"} }, []string{"a"}, ""},
		{"none", func(m map[string]any) { delete(m, "scope") }, nil, ""},
		{"scope a number", func(m map[string]any) { m["scope"] = 7 }, nil, `claim "scope" must be a string or an array`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			v := newVerifier(t, is, clk)
			caller, err := v.Verify(context.Background(), sign(t, rsaKey1, is.claimsFor(clk, c.claims)))
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, caller.Scopes)
			for _, s := range c.want {
				assert.True(t, caller.HasScope(s))
			}
			assert.True(t, caller.HasScope(""))
			assert.False(t, caller.HasScope("batchql:admin"))
		})
	}
}

func TestVerifyTenants(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	cases := []struct {
		name    string
		claim   string // --tenant-claim
		claims  func(map[string]any)
		want    TenantScope
		present bool
		err     string
	}{
		{"claim present", "tenants", func(m map[string]any) { m["tenants"] = []string{"t2", "t1", "t2"} }, TenantScope{IDs: []string{"t1", "t2"}}, true, ""},
		{"claim empty array", "tenants", func(m map[string]any) { m["tenants"] = []string{} }, TenantScope{IDs: []string{}}, true, ""},
		{"claim absent", "tenants", func(map[string]any) {}, TenantScope{}, false, ""},
		{"claim null", "tenants", func(m map[string]any) { m["tenants"] = nil }, TenantScope{}, false, ""},
		{"claim not an array", "tenants", func(m map[string]any) { m["tenants"] = "t1" }, TenantScope{}, false, `claim "tenants" must be a JSON array`},
		{"array of non-strings", "tenants", func(m map[string]any) { m["tenants"] = []int{1} }, TenantScope{}, false, `claim "tenants" must be a JSON array`},
		{"no --tenant-claim", "", func(m map[string]any) { m["tenants"] = "ignored" }, TenantScope{All: true}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			v := newVerifier(t, is, clk, func(cfg *Config) { cfg.TenantClaim = c.claim })
			caller, err := v.Verify(context.Background(), sign(t, rsaKey1, is.claimsFor(clk, c.claims)))
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.present, caller.HasTenantClaim)
			got := caller.TenantScope()
			assert.Equal(t, c.want.All, got.All)
			assert.ElementsMatch(t, c.want.IDs, got.IDs)
		})
	}
}

func TestTenantScopeVisible(t *testing.T) {
	s := TenantScope{IDs: []string{"a", "c"}}
	assert.True(t, s.Visible(""), "batches without a tenant are visible to every reader")
	assert.True(t, s.Visible("a"))
	assert.True(t, s.Visible("c"))
	assert.False(t, s.Visible("b"))
	assert.True(t, TenantScope{All: true}.Visible("b"))
	assert.False(t, TenantScope{}.Visible("a"), "a token without the claim sees only batches without a tenant")

	// Authentication off: no caller in the context, everything visible.
	assert.Equal(t, TenantScope{All: true}, ScopeOf(context.Background()))
	var nilCaller *Caller
	assert.True(t, nilCaller.TenantScope().All)
	c := &Caller{Tenants: []string{"a"}, tenantFilter: true}
	assert.Equal(t, TenantScope{IDs: []string{"a"}}, ScopeOf(NewContext(context.Background(), c)))
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Issuer: "https://id.example.com/realms/x", Audience: "api"}, ""},
		{Config{Issuer: "http://localhost:8081", Audience: "api", ReadScope: "batchql:read", TenantClaim: "tenants"}, ""},
		{Config{Issuer: "http://127.0.0.1:8081", Audience: "api"}, ""},
		{Config{Audience: "api"}, "--oidc-audience needs --oidc-issuer"},
		{Config{TenantClaim: "t"}, "need --oidc-issuer"},
		{Config{Issuer: "https://id.example.com"}, "--oidc-issuer needs --oidc-audience"},
		{Config{Issuer: "http://id.example.com", Audience: "a"}, "must be https"},
		{Config{Issuer: "id.example.com", Audience: "a"}, "absolute URL"},
		{Config{Issuer: "https://id.example.com?x=1", Audience: "a"}, "without query"},
		{Config{Issuer: "https://id.example.com", Audience: "a", ImportScope: "a b"}, `--import-scope "a b"`},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if c.want == "" {
			assert.NoError(t, err, "%+v", c.cfg)
		} else if assert.Error(t, err, "%+v", c.cfg) {
			assert.Contains(t, err.Error(), c.want)
		}
	}
	_, err := New(Config{})
	assert.Error(t, err)
}

func TestVerifyConcurrentFirstUseDiscoversOnce(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	clk := newClock()
	v := newVerifier(t, is, clk)
	tok := sign(t, rsaKey1, is.claimsFor(clk))
	unknown := sign(t, testKey{"unknown", jose.RS256, evilKey.priv}, is.claimsFor(clk))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			raw := tok
			if i%2 == 1 {
				raw = unknown
			}
			_, err := v.Verify(context.Background(), raw)
			if (err == nil) != (raw == tok) {
				errs <- fmt.Errorf("request %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.EqualValues(t, 1, is.discovery.Load())
	assert.EqualValues(t, 1, is.jwksHits.Load())
}
