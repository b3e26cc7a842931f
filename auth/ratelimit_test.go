package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimiter(t *testing.T) {
	clk := newClock()
	l := NewRateLimiter(2) // 2/s, burst 4
	l.Now = clk.now
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	h := l.Wrap(ok)
	do := func(addr string, c *Caller) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/query", nil)
		req.RemoteAddr = addr
		req.Header.Set("X-Forwarded-For", "203.0.113.9") // not trusted
		if c != nil {
			req = req.WithContext(NewContext(req.Context(), c))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	for i := range 4 {
		require.Equal(t, 200, do("192.0.2.1:1000", nil).Code, "burst request %d", i)
	}
	rec := do("192.0.2.1:1001", nil) // another port, same client
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	b := decodeBody(t, rec)
	assert.Equal(t, CodeRateLimited, b.Errors[0].Extensions["code"])

	// Other callers are unaffected: another address, and a subject from the
	// same address (an authenticated caller is keyed by subject).
	assert.Equal(t, 200, do("192.0.2.2:1000", nil).Code)
	assert.Equal(t, 200, do("192.0.2.1:1000", &Caller{Subject: "alice"}).Code)

	// Refill: one request per 500 ms.
	clk.add(500 * time.Millisecond)
	assert.Equal(t, 200, do("192.0.2.1:1000", nil).Code)
	assert.Equal(t, 429, do("192.0.2.1:1000", nil).Code)

	// Eviction: after a full refill period idle buckets go away.
	require.Equal(t, 3, l.Len())
	clk.add(2 * time.Second)
	assert.Equal(t, 200, do("192.0.2.3:1000", nil).Code)
	assert.Equal(t, 1, l.Len(), "idle limiters are evicted")
}

func TestRateLimiterRetryAfterRoundsUp(t *testing.T) {
	clk := newClock()
	l := NewRateLimiter(0.1) // one per 10 s, burst 1
	l.Now = clk.now
	_, ok := l.Allow("k")
	require.True(t, ok)
	wait, ok := l.Allow("k")
	require.False(t, ok)
	assert.Equal(t, 10*time.Second, wait)
	clk.add(9500 * time.Millisecond)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/query", nil)
	l.Key = func(*http.Request) string { return "k" }
	l.Wrap(http.NotFoundHandler()).ServeHTTP(rec, req)
	require.Equal(t, 429, rec.Code)
	secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	require.NoError(t, err)
	assert.Equal(t, 1, secs, "0.5 s rounds up to 1")
	// A refused request does not consume budget.
	clk.add(500 * time.Millisecond)
	_, ok = l.Allow("k")
	assert.True(t, ok)
}

func TestRateLimiterBoundedMemory(t *testing.T) {
	clk := newClock()
	l := NewRateLimiter(100)
	l.Now = clk.now
	l.Max = 1000
	for i := range 10000 {
		_, ok := l.Allow(fmt.Sprintf("addr:%d", i))
		require.True(t, ok)
		assert.LessOrEqual(t, l.Len(), 1000)
	}
}

func TestRateLimiterOff(t *testing.T) {
	assert.Nil(t, NewRateLimiter(0))
	var l *RateLimiter
	h := http.NotFoundHandler()
	assert.NotNil(t, l.Wrap(h))
}

func TestDefaultKey(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "[2001:db8::1]:5555"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	assert.Equal(t, "addr:2001:db8::1", DefaultKey(req))
	req = req.WithContext(NewContext(req.Context(), &Caller{Subject: "alice"}))
	assert.Equal(t, "sub:alice", DefaultKey(req))
	req = req.WithContext(NewContext(req.Context(), &Caller{}))
	assert.Equal(t, "addr:2001:db8::1", DefaultKey(req), "no subject: the address")
}
