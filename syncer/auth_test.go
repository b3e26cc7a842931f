package syncer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
)

// The token is reused until shortly before expires_in, then fetched anew.
func TestTokenCachedUntilNearExpiry(t *testing.T) {
	clock := enginefake.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	fake := enginefake.NewCamunda8(enginefake.WithClock(clock),
		enginefake.WithOAuth2(enginefake.OAuth2{ClientID: "c", ClientSecret: "s", Audience: "zeebe-api", TTL: 300 * time.Second}))
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ts := &tokenSource{cfg: OAuth2{TokenURL: srv.URL + enginefake.TokenPath, ClientID: "c", ClientSecret: "s", Audience: "zeebe-api"},
		hc: srv.Client(), timeout: time.Second, now: clock.Now}
	ctx := context.Background()
	tok1, err := ts.get(ctx)
	require.NoError(t, err)
	for range 5 {
		tok, err := ts.get(ctx)
		require.NoError(t, err)
		assert.Equal(t, tok1, tok)
	}
	assert.Equal(t, 1, fake.TokenRequests())
	clock.Advance(269 * time.Second) // 300s - 30s margin: still fresh
	tok, err := ts.get(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok1, tok)
	assert.Equal(t, 1, fake.TokenRequests())
	clock.Advance(2 * time.Second) // within the margin before expiry
	tok, err = ts.get(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, tok1, tok)
	assert.Equal(t, 2, fake.TokenRequests())

	// a token revoked early: the 401 drops it, one fresh token, the request
	// succeeds
	c := &client{base: mustURL(t, srv.URL+"/v2"), hc: srv.Client(), auth: ts, timeout: time.Second,
		sem: make(chan struct{}, inFlight), attempts: 1, backoff: time.Millisecond, maxWait: time.Second}
	fake.ExpireTokens()
	_, err = c.post(ctx, "/batch-operations/search", map[string]any{})
	require.NoError(t, err)
	assert.Equal(t, 3, fake.TokenRequests())

	// wrong secret: an authentication failure, without the secret
	bad := &tokenSource{cfg: OAuth2{TokenURL: srv.URL + enginefake.TokenPath, ClientID: "c", ClientSecret: "wrong-secret-123", Audience: "zeebe-api"},
		hc: srv.Client(), timeout: time.Second, now: clock.Now}
	_, err = bad.get(ctx)
	require.ErrorIs(t, err, ErrAuth)
	assert.Contains(t, err.Error(), "401")
	assert.Contains(t, err.Error(), "invalid_client")
	assert.NotContains(t, err.Error(), "wrong-secret-123")
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {" 120 ", 2 * time.Minute}, {"-1", 0}, {"soon", 0},
		{"Sun, 01 Mar 2026 12:00:05 GMT", 5 * time.Second},
		{"Sun, 01 Mar 2026 11:59:00 GMT", 0},
	} {
		assert.Equal(t, tc.want, retryAfter(tc.h, now), "Retry-After %q", tc.h)
	}
}

// Problem details (Camunda 8), exceptions (Camunda 7) and proxy pages are
// read into HTTPError; 401/403 are authentication failures.
func TestErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		name, body, ctype string
		status            int
		want              string
		retry, auth       bool
	}{
		{"problem", `{"type":"about:blank","title":"INVALID_ARGUMENT","status":400,"detail":"bad page","instance":"/v2/x"}`, "application/problem+json", 400,
			"POST http://e/v2/x: 400 Bad Request: INVALID_ARGUMENT: bad page", false, false},
		{"exhausted", `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"busy","instance":"/v2/x"}`, "application/problem+json", 503,
			"POST http://e/v2/x: 503 Service Unavailable: RESOURCE_EXHAUSTED: busy", true, false},
		{"camunda 7", `{"type":"InvalidRequestException","message":"Cannot set query parameter 'sortBy' to value 'x'","code":null}`, "application/json", 400,
			"POST http://e/v2/x: 400 Bad Request: InvalidRequestException: Cannot set query parameter 'sortBy' to value 'x'", false, false},
		{"proxy", `<html>bad gateway</html>`, "text/html", 502, "POST http://e/v2/x: 502 Bad Gateway", true, false},
		{"forbidden", `{"title":"FORBIDDEN","status":403,"detail":"no"}`, "application/problem+json", 403,
			"POST http://e/v2/x: 403 Forbidden: FORBIDDEN: no", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Content-Type": {tc.ctype}}}
			he := errorOf("POST", "http://e/v2/x", resp, []byte(tc.body))
			assert.Equal(t, tc.want, he.Error())
			assert.Equal(t, tc.retry, he.retryable())
			assert.Equal(t, tc.auth, he.Auth())
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}
