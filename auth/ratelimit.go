package auth

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter limits requests per caller (--rate-limit): a token bucket of
// rate N per second and burst 2N per key, the key being the token's subject
// (from the Caller Guard put into the context) or else the client address
// (RemoteAddr without port; X-Forwarded-For is not trusted unless Key says
// so). Over the limit: 429, Retry-After, code RATE_LIMITED.
//
// Memory is bounded: a limiter idle for as long as its bucket takes to refill
// (burst/rate = 2 s) is indistinguishable from a new one and is evicted, and
// at most Max keys are kept (when full after eviction, arbitrary keys are
// dropped down to 3/4 of Max, which only refills their buckets).
type RateLimiter struct {
	// Key returns the key of a request; default DefaultKey.
	Key func(*http.Request) string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Max is the most keys kept; default 100000.
	Max int

	limit rate.Limit
	burst int
	idle  time.Duration

	mu        sync.Mutex
	m         map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// NewRateLimiter returns a limiter of perSecond requests per second per
// caller, or nil (no limit) when perSecond <= 0.
func NewRateLimiter(perSecond float64) *RateLimiter {
	if perSecond <= 0 || math.IsInf(perSecond, 0) || math.IsNaN(perSecond) {
		return nil
	}
	burst := max(1, int(math.Ceil(2*perSecond)))
	return &RateLimiter{
		limit: rate.Limit(perSecond),
		burst: burst,
		idle:  time.Duration(float64(burst) / perSecond * float64(time.Second)),
		m:     map[string]*bucket{},
	}
}

// DefaultKey is "sub:<subject>" for an authenticated caller with a subject,
// else "addr:<host of RemoteAddr>".
func DefaultKey(r *http.Request) string {
	if c, ok := FromContext(r.Context()); ok && c.Subject != "" {
		return "sub:" + c.Subject
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

// Wrap returns next behind the limiter; a nil limiter returns next.
func (l *RateLimiter) Wrap(next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := DefaultKey
		if l.Key != nil {
			key = l.Key
		}
		if wait, ok := l.Allow(key(r)); !ok {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeGraphQLError(w, http.StatusTooManyRequests, CodeRateLimited,
				"rate limit exceeded: retry in "+strconv.Itoa(secs)+" s")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Allow takes one request of key's budget. When over the limit it returns
// false and how long until a request would be allowed.
func (l *RateLimiter) Allow(key string) (time.Duration, bool) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.m[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = b
	}
	b.last = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep evicts idle buckets, at most once per idle period, and keeps the map
// under Max.
func (l *RateLimiter) sweep(now time.Time) {
	limit := l.Max
	if limit <= 0 {
		limit = 100000
	}
	if now.Sub(l.lastSweep) < l.idle && len(l.m) < limit {
		return
	}
	l.lastSweep = now
	for k, b := range l.m {
		if now.Sub(b.last) >= l.idle {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < limit*3/4 {
			break
		}
		delete(l.m, k)
	}
}

// Len returns how many callers are tracked.
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
