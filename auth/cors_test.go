package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCORS(t *testing.T) {
	listed, err := ParseCORS("https://app.example.com, http://localhost:5173")
	require.NoError(t, err)
	anyOrigin, err := ParseCORS("*")
	require.NoError(t, err)
	none, err := ParseCORS("")
	require.NoError(t, err)

	reached := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true; w.WriteHeader(200) })

	cases := []struct {
		name      string
		cors      *CORS
		method    string
		origin    string
		preflight bool
		status    int
		allow     string // Access-Control-Allow-Origin; "" none
		reaches   bool
	}{
		{"preflight listed", listed, "OPTIONS", "https://app.example.com", true, 204, "https://app.example.com", false},
		{"preflight listed, other case", listed, "OPTIONS", "HTTPS://APP.example.com", true, 204, "HTTPS://APP.example.com", false},
		{"preflight unlisted", listed, "OPTIONS", "https://evil.example.com", true, 204, "", false},
		{"preflight with *", anyOrigin, "OPTIONS", "https://whoever.example", true, 204, "https://whoever.example", false},
		{"preflight, CORS off", none, "OPTIONS", "https://app.example.com", true, 204, "", false},
		{"actual listed", listed, "POST", "http://localhost:5173", false, 200, "http://localhost:5173", true},
		{"actual unlisted", listed, "POST", "https://evil.example.com", false, 200, "", true},
		{"actual with *", anyOrigin, "GET", "https://whoever.example", false, 200, "https://whoever.example", true},
		{"no origin", listed, "POST", "", false, 200, "", true},
		{"port matters", listed, "POST", "http://localhost:5174", false, 200, "", true},
		{"scheme matters", listed, "POST", "http://app.example.com", false, 200, "", true},
		{"OPTIONS without request method is no preflight", listed, "OPTIONS", "https://app.example.com", false, 200, "https://app.example.com", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reached = false
			req := httptest.NewRequest(c.method, "/query", nil)
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			if c.preflight {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			}
			rec := httptest.NewRecorder()
			c.cors.Wrap(next).ServeHTTP(rec, req)
			assert.Equal(t, c.status, rec.Code)
			assert.Equal(t, c.reaches, reached)
			h := rec.Header()
			assert.Equal(t, c.allow, h.Get("Access-Control-Allow-Origin"))
			if c.cors != none {
				assert.Contains(t, h.Values("Vary"), "Origin")
			}
			if c.allow == "" {
				for k := range h {
					assert.NotContains(t, k, "Access-Control-", "no CORS headers for an unlisted origin")
				}
				return
			}
			assert.Equal(t, "GET, POST, OPTIONS", h.Get("Access-Control-Allow-Methods"))
			assert.Equal(t, "Authorization, Content-Type", h.Get("Access-Control-Allow-Headers"))
			if c.preflight {
				assert.Equal(t, "600", h.Get("Access-Control-Max-Age"))
			} else {
				assert.Equal(t, "Retry-After, WWW-Authenticate", h.Get("Access-Control-Expose-Headers"))
			}
		})
	}
}

func TestParseCORSErrors(t *testing.T) {
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "ftp://x.example", "https://", "https://a.example?x=1"} {
		_, err := ParseCORS(bad)
		if assert.Error(t, err, bad) {
			assert.Contains(t, err.Error(), bad)
		}
	}
	c, err := ParseCORS(" https://a.example/ ,,")
	require.NoError(t, err)
	assert.True(t, c.Allowed("https://a.example"))
}

func TestCheckWebSocketOrigin(t *testing.T) {
	listed, err := ParseCORS("https://app.example.com")
	require.NoError(t, err)
	none, err := ParseCORS("")
	require.NoError(t, err)
	cases := []struct {
		cors   *CORS
		host   string
		origin string
		want   bool
	}{
		{listed, "api.example.com", "", true},                          // not a browser
		{listed, "api.example.com", "https://api.example.com", true},   // same origin
		{none, "localhost:8080", "http://localhost:8080", true},        // same origin, CORS off
		{listed, "api.example.com", "https://app.example.com", true},   // listed
		{listed, "api.example.com", "https://evil.example.com", false}, // unlisted
		{none, "api.example.com", "https://app.example.com", false},
		{listed, "api.example.com", "null", false},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodGet, "/query", nil)
		req.Host = c.host
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		assert.Equal(t, c.want, c.cors.CheckWebSocketOrigin(req), "%s from %q", c.host, c.origin)
	}
}
