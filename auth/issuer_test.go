package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// testKey is a signing key of the test issuer.
type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv any
}

func (k testKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: publicKey(k.priv), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

var (
	keysOnce sync.Once
	rsaKey1  testKey
	rsaKey2  testKey
	ecKey    testKey
	edKey    testKey
	evilKey  testKey
)

// keys generates the test keys once per test binary (RSA generation is
// slow); TestMain calls it before any test reads the key variables.
func keys(testing.TB) {
	keysOnce.Do(func() {
		r1 := must(rsa.GenerateKey(rand.Reader, 2048))
		r2 := must(rsa.GenerateKey(rand.Reader, 2048))
		ec := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		ev := must(rsa.GenerateKey(rand.Reader, 2048))
		rsaKey1 = testKey{"rsa-1", jose.RS256, r1}
		rsaKey2 = testKey{"rsa-2", jose.PS256, r2}
		ecKey = testKey{"ec-1", jose.ES256, ec}
		edKey = testKey{"ed-1", jose.EdDSA, ed}
		evilKey = testKey{"rsa-1", jose.RS256, ev} // claims the kid of a real key
	})
}

// testIssuer is an OIDC issuer: discovery document and a mutable JWKS.
type testIssuer struct {
	srv       *httptest.Server
	url       string
	mu        sync.Mutex
	jwks      []jose.JSONWebKey
	down      bool // discovery and JWKS answer 503
	discovery atomic.Int32
	jwksHits  atomic.Int32
}

func newIssuer(t testing.TB, ks ...testKey) *testIssuer {
	keys(t)
	is := &testIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.discovery.Add(1)
		if is.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                is.url,
			"jwks_uri":                              is.url + "/jwks",
			"authorization_endpoint":                is.url + "/auth",
			"token_endpoint":                        is.url + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "HS256"}, // HS256 advertised: must still be refused
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		if is.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.mu.Lock()
		set := jose.JSONWebKeySet{Keys: is.jwks}
		is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	is.url = is.srv.URL
	is.setKeys(ks...)
	return is
}

func (is *testIssuer) setKeys(ks ...testKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.jwks = nil
	for _, k := range ks {
		is.jwks = append(is.jwks, k.jwk())
	}
}

func (is *testIssuer) setDown(d bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.down = d
}

func (is *testIssuer) isDown() bool {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.down
}

const testAudience = "batchql-api"

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// claimsFor returns valid claims at clk's time; edits change them.
func (is *testIssuer) claimsFor(clk *clock, edits ...func(map[string]any)) map[string]any {
	now := clk.now()
	c := map[string]any{
		"iss":   is.url,
		"sub":   "alice",
		"aud":   testAudience,
		"iat":   now.Unix(),
		"exp":   now.Add(5 * time.Minute).Unix(),
		"scope": "openid batchql:import",
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

// sign returns a compact JWS of claims signed by k, with extra headers.
func sign(t testing.TB, k testKey, claims map[string]any, opts ...func(*jose.SignerOptions)) string {
	o := (&jose.SignerOptions{}).WithType("JWT")
	for _, f := range opts {
		f(o)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, o)
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	obj, err := signer.Sign(payload)
	require.NoError(t, err)
	s, err := obj.CompactSerialize()
	require.NoError(t, err)
	return s
}

// unsigned returns a token with the given header and no signature.
func unsigned(t testing.TB, header, claims map[string]any) string {
	h, err := json.Marshal(header)
	require.NoError(t, err)
	p, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "."
}

func newVerifier(t testing.TB, is *testIssuer, clk *clock, edit ...func(*Config)) *Verifier {
	cfg := Config{Issuer: is.url, Audience: testAudience}
	for _, e := range edit {
		e(&cfg)
	}
	v, err := New(cfg, WithClock(clk.now), WithHTTPClient(is.srv.Client()), WithLogger(discard()))
	require.NoError(t, err)
	return v
}
