package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenCacheRespectsExpiry(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	clk := newClock()
	v := newVerifier(t, is, clk)
	ctx := context.Background()
	tok := sign(t, rsaKey1, is.claimsFor(clk)) // exp now+5m
	_, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, 1, v.cache.len())

	clk.add(5*time.Minute + Leeway) // exactly exp+leeway: still valid
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err)
	clk.add(time.Second)
	_, err = v.Verify(ctx, tok)
	require.Error(t, err, "a cached token must expire like an uncached one")
	assert.Contains(t, err.Error(), "expired at")
	assert.Equal(t, 0, v.cache.len())
}

func TestTokenCacheOnlyCachesSuccess(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	clk := newClock()
	v := newVerifier(t, is, clk)
	_, err := v.Verify(context.Background(), sign(t, rsaKey1, is.claimsFor(clk, func(m map[string]any) { m["aud"] = "x" })))
	require.Error(t, err)
	assert.Equal(t, 0, v.cache.len())
}

func TestTokenCacheBounded(t *testing.T) {
	c := newTokenCache(100)
	now := time.Unix(1_800_000_000, 0)
	for i := range 1000 {
		c.put(fmt.Sprint("tok", i), &Caller{}, now.Add(time.Minute), now)
		assert.LessOrEqual(t, c.len(), 100)
	}
	off := newTokenCache(0)
	off.put("t", &Caller{}, now.Add(time.Minute), now)
	assert.Nil(t, off.get("t", now))
}

// BenchmarkVerify measures verifying one token per request, with and without
// the cache of verified tokens.
func BenchmarkVerify(b *testing.B) {
	is := newIssuer(b, rsaKey1, ecKey, edKey)
	for _, k := range []testKey{rsaKey1, ecKey, edKey} {
		for _, size := range []int{0, 10000} {
			b.Run(fmt.Sprintf("%s/cache=%d", k.alg, size), func(b *testing.B) {
				clk := newClock()
				v, err := New(Config{Issuer: is.url, Audience: testAudience, TenantClaim: "tenants"},
					WithClock(clk.now), WithHTTPClient(is.srv.Client()), WithLogger(discard()), WithTokenCache(size))
				require.NoError(b, err)
				tok := sign(b, k, is.claimsFor(clk, func(m map[string]any) { m["tenants"] = []string{"a", "b"} }))
				ctx := context.Background()
				_, err = v.Verify(ctx, tok)
				require.NoError(b, err)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := v.Verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
