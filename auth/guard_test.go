package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type gqlBody struct {
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func decodeBody(t *testing.T, rec *httptest.ResponseRecorder) gqlBody {
	t.Helper()
	assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	var b gqlBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b), rec.Body.String())
	require.Len(t, b.Errors, 1)
	return b
}

// echo is the guarded handler: it answers the caller's subject.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := FromContext(r.Context())
	if !ok {
		_, _ = w.Write([]byte("no caller"))
		return
	}
	_, _ = w.Write([]byte("caller " + c.Subject))
})

func TestGuard(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	clk := newClock()
	v := newVerifier(t, is, clk, func(c *Config) { c.ReadScope = "batchql:read" })
	read := &Guard{Verifier: v, Scope: "batchql:read"}
	imp := &Guard{Verifier: v, Scope: DefaultImportScope, Token: "s3cret-import-token"}
	readTok := sign(t, rsaKey1, is.claimsFor(clk, func(m map[string]any) { m["scope"] = "batchql:read" }))
	importTok := sign(t, rsaKey1, is.claimsFor(clk)) // scope: openid batchql:import
	expired := sign(t, rsaKey1, is.claimsFor(clk, func(m map[string]any) { m["exp"] = clk.now().Add(-2 * Leeway).Unix() }))

	cases := []struct {
		name      string
		guard     *Guard
		header    string
		status    int
		code      string
		challenge string // WWW-Authenticate, exact or prefix ending in "…"
		body      string // for 200
	}{
		{"missing token", read, "", 401, CodeUnauthenticated, `Bearer error="invalid_token", error_description="authentication required: send Authorization: Bearer <token>"`, ""},
		{"other scheme", read, "Basic YWxhZGRpbjpvcGVuc2VzYW1l", 401, CodeUnauthenticated, `Bearer error="invalid_token", error_description="authentication required: send Authorization: Bearer <token>"`, ""},
		{"empty bearer", read, "Bearer ", 401, CodeUnauthenticated, `Bearer error="invalid_token", error_description="authentication required: send Authorization: Bearer <token>"`, ""},
		{"garbage token", read, "Bearer not.a.jwt", 401, CodeUnauthenticated, `Bearer error="invalid_token", error_description="invalid bearer token: malformed token"`, ""},
		{"expired token", read, "Bearer " + expired, 401, CodeUnauthenticated, `Bearer error="invalid_token", error_description="invalid bearer token: expired at …`, ""},
		{"read with read scope", read, "Bearer " + readTok, 200, "", "", "caller alice"},
		{"lower-case scheme", read, "bearer " + readTok, 200, "", "", "caller alice"},
		{"read without read scope", read, "Bearer " + importTok, 403, CodeForbidden, `Bearer error="insufficient_scope", error_description="the token lacks the scope ?batchql:read?", scope="batchql:read"`, ""},
		{"import with import scope", imp, "Bearer " + importTok, 200, "", "", "caller alice"},
		{"import without import scope", imp, "Bearer " + readTok, 403, CodeForbidden, `Bearer error="insufficient_scope"…`, ""},
		{"import with the static token", imp, "Bearer s3cret-import-token", 200, "", "", "caller " + StaticTokenSubject},
		{"import with a wrong static token", imp, "Bearer s3cret-import-tokeN", 401, CodeUnauthenticated, `Bearer error="invalid_token"…`, ""},
		{"static token only, wrong", &Guard{Token: "t"}, "Bearer u", 401, CodeUnauthenticated, `Bearer error="invalid_token", error_description="invalid bearer token: wrong token"`, ""},
		{"auth off", &Guard{}, "", 200, "", "", "no caller"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{__typename}"}`))
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			rec := httptest.NewRecorder()
			c.guard.Wrap(echo).ServeHTTP(rec, req)
			require.Equal(t, c.status, rec.Code, rec.Body.String())
			if c.status == 200 {
				assert.Equal(t, c.body, rec.Body.String())
				return
			}
			got := rec.Header().Get("WWW-Authenticate")
			if p, ok := strings.CutSuffix(c.challenge, "…"); ok {
				assert.True(t, strings.HasPrefix(got, p), "WWW-Authenticate %q, want prefix %q", got, p)
			} else {
				assert.Equal(t, c.challenge, got)
			}
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			b := decodeBody(t, rec)
			assert.Equal(t, c.code, b.Errors[0].Extensions["code"])
			assert.NotEmpty(t, b.Errors[0].Message)
			if c.header != "" {
				_, tok, _ := strings.Cut(c.header, " ")
				if len(tok) > 8 {
					assert.NotContains(t, rec.Body.String(), tok, "the token must not be echoed")
					assert.NotContains(t, got, tok)
				}
			}
		})
	}
}

func TestGuardIssuerDown(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	is.setDown(true)
	clk := newClock()
	v := newVerifier(t, is, clk)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/query", nil)
	req.Header.Set("Authorization", "Bearer "+sign(t, rsaKey1, is.claimsFor(clk)))
	(&Guard{Verifier: v}).Wrap(echo).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
	assert.Equal(t, CodeInternal, decodeBody(t, rec).Errors[0].Extensions["code"])
}

func TestGuardWebSocket(t *testing.T) {
	is := newIssuer(t, rsaKey1)
	clk := newClock()
	v := newVerifier(t, is, clk, func(c *Config) { c.ReadScope = "batchql:read" })
	readTok := sign(t, rsaKey1, is.claimsFor(clk, func(m map[string]any) { m["scope"] = "batchql:read" }))
	g := &Guard{Verifier: v, Scope: "batchql:read"}

	upgrade := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/query", nil)
		req.Header.Set("Connection", "keep-alive, Upgrade")
		req.Header.Set("Upgrade", "websocket")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		g.Wrap(echo).ServeHTTP(rec, req)
		return rec
	}
	rec := upgrade("")
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "no caller", rec.Body.String(), "an upgrade without header reaches the transport, which checks connection_init")
	rec = upgrade("Bearer " + readTok)
	assert.Equal(t, "caller alice", rec.Body.String())
	rec = upgrade("Bearer junk")
	assert.Equal(t, 401, rec.Code, "a header that is sent is checked")

	ctx := context.Background()
	cases := []struct {
		name    string
		ctx     context.Context
		payload map[string]any
		sub     string
		status  int
	}{
		{"Authorization", ctx, map[string]any{"Authorization": "Bearer " + readTok}, "alice", 0},
		{"authorization", ctx, map[string]any{"authorization": "Bearer " + readTok}, "alice", 0},
		{"missing", ctx, map[string]any{}, "", 401},
		{"nil payload", ctx, nil, "", 401},
		{"not a string", ctx, map[string]any{"Authorization": 42}, "", 401},
		{"invalid", ctx, map[string]any{"Authorization": "Bearer junk"}, "", 401},
		{"without read scope", ctx, map[string]any{"Authorization": "Bearer " + sign(t, rsaKey1, is.claimsFor(clk))}, "", 403},
		{"from the upgrade request", NewContext(ctx, &Caller{Subject: "bob"}), map[string]any{}, "bob", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caller, err := v.AuthenticateInit(c.ctx, c.payload)
			if c.status == 0 {
				require.NoError(t, err)
				assert.Equal(t, c.sub, caller.Subject)
				return
			}
			var ae *Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, c.status, ae.Status)
		})
	}
}

func TestWriteErrorHidesInternalErrors(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, assert.AnError)
	assert.Equal(t, 500, rec.Code)
	b := decodeBody(t, rec)
	assert.Equal(t, CodeInternal, b.Errors[0].Extensions["code"])
	assert.NotContains(t, rec.Body.String(), assert.AnError.Error())
}
