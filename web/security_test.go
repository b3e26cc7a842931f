package web

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/auth"
	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
)

// oidcIssuer is a minimal OIDC issuer: discovery and a JWKS of one RSA key.
type oidcIssuer struct {
	url string
	key *rsa.PrivateKey
}

func newOIDCIssuer(t testing.TB) *oidcIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	is := &oidcIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.url, "jwks_uri": is.url + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	is.url = srv.URL
	return is
}

func (is *oidcIssuer) token(t testing.TB, sub string, claims map[string]any) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: is.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	require.NoError(t, err)
	c := map[string]any{"iss": is.url, "aud": "batchql", "sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	payload, err := json.Marshal(c)
	require.NoError(t, err)
	jws, err := sig.Sign(payload)
	require.NoError(t, err)
	s, err := jws.CompactSerialize()
	require.NoError(t, err)
	return s
}

// tenantStore holds batches of tenants A, B and none, and one operation.
func tenantStore(t *testing.T) (*storage.Store, []*storage.Batch) {
	s, err := storage.Open(filepath.Join(t.TempDir(), "t.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	var batches []*storage.Batch
	for i, tenant := range []string{"A", "B", "", "A", "B", "", "A"} {
		b := &storage.Batch{BatchID: "b" + string(rune('0'+i)), Type: "instance-migration", TotalJobs: i}
		if tenant != "" {
			b.TenantID = &tenant
		}
		batches = append(batches, b)
	}
	require.NoError(t, s.Update(context.Background(), func(w *storage.Writer) error {
		for _, b := range batches {
			if _, err := w.PutBatch(b); err != nil {
				return err
			}
		}
		_, err := w.PutBatchOperation(&storage.BatchOperation{BatchOperationKey: "1", BatchOperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE"})
		return err
	}))
	return s, batches
}

func secureServer(t *testing.T, store *storage.Store, is *oidcIssuer, readScope string, rateLimit float64) *httptest.Server {
	v, err := auth.New(auth.Config{Issuer: is.url, Audience: "batchql", ReadScope: readScope, TenantClaim: "tenants"},
		auth.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	cors, err := auth.ParseCORS("http://app.example")
	require.NoError(t, err)
	h := NewRouter(store, graph.Config{}, http.NotFoundHandler(), slog.New(slog.DiscardHandler),
		Options{Security: Security{Verifier: v, ReadScope: readScope, CORS: cors, Limiter: auth.NewRateLimiter(rateLimit)}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type gqlAnswer struct {
	status int
	header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func post(t *testing.T, srv *httptest.Server, token, query string, vars map[string]any) gqlAnswer {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := gqlAnswer{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.Unmarshal(raw, &a), "%s", raw)
	return a
}

// Through the real router: each caller's lists, totalCount, batch, node,
// nodes and _entities hold exactly the batches the reference filter keeps.
func TestSecurityTenantsThroughRouter(t *testing.T) {
	is := newOIDCIssuer(t)
	store, batches := tenantStore(t)
	srv := secureServer(t, store, is, "", 0)
	const q = `query($ids: [ID!]!, $reps: [_Any!]!) {
		batches(first: 100) { totalCount nodes { batchId } }
		desc: batches(last: 2, orderBy: [{field: TENANT_ID, direction: DESC}]) { totalCount nodes { batchId } pageInfo { hasPreviousPage } }
		b1: batch(batchId: "b1") { batchId }
		nodes(ids: $ids) { id }
		_entities(representations: $reps) { ... on Batch { batchId } }
		batchOperations { totalCount }
	}`
	var ids []string
	var reps []map[string]any
	for _, b := range batches {
		ids = append(ids, globalid.Batch(b.BatchID))
		reps = append(reps, map[string]any{"__typename": "Batch", "batchId": b.BatchID})
	}
	for name, claims := range map[string]map[string]any{
		"A":    {"tenants": []string{"A"}},
		"B":    {"tenants": []string{"B"}},
		"A,B":  {"tenants": []string{"A", "B"}},
		"none": {},
	} {
		t.Run(name, func(t *testing.T) {
			tenants, _ := claims["tenants"].([]string)
			var want []string
			for _, b := range batches {
				if b.TenantID == nil || slices.Contains(tenants, *b.TenantID) {
					want = append(want, b.BatchID)
				}
			}
			a := post(t, srv, is.token(t, "user-"+name, claims), q, map[string]any{"ids": ids, "reps": reps})
			require.Equal(t, http.StatusOK, a.status)
			require.Empty(t, a.Errors)
			var d struct {
				Batches struct {
					TotalCount int
					Nodes      []struct{ BatchID string }
				}
				Desc struct {
					TotalCount int
					Nodes      []struct{ BatchID string }
					PageInfo   struct{ HasPreviousPage bool }
				}
				B1              *struct{ BatchID string }
				Nodes           []*struct{ ID string }
				Entities        []*struct{ BatchID string } `json:"_entities"`
				BatchOperations struct{ TotalCount int }
			}
			require.NoError(t, json.Unmarshal(a.Data, &d))
			var got []string
			for _, n := range d.Batches.Nodes {
				got = append(got, n.BatchID)
			}
			assert.Equal(t, want, got, "batches")
			assert.Equal(t, len(want), d.Batches.TotalCount)
			assert.Equal(t, len(want), d.Desc.TotalCount)
			assert.Equal(t, len(want) > 2, d.Desc.PageInfo.HasPreviousPage)
			assert.Equal(t, slices.Contains(want, "b1"), d.B1 != nil, "batch(b1)")
			for i, b := range batches {
				visible := slices.Contains(want, b.BatchID)
				assert.Equal(t, visible, d.Nodes[i] != nil, "nodes[%d]", i)
				assert.Equal(t, visible, d.Entities[i] != nil, "_entities[%d]", i)
			}
			assert.Equal(t, 1, d.BatchOperations.TotalCount, "operations carry no tenant")
		})
	}
}

func TestSecurityRefusals(t *testing.T) {
	is := newOIDCIssuer(t)
	store, _ := tenantStore(t)
	srv := secureServer(t, store, is, "batchql:read", 1)

	a := post(t, srv, "", `{ batches { totalCount } }`, nil)
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Equal(t, "UNAUTHENTICATED", a.Errors[0].Extensions["code"])
	assert.Contains(t, a.header.Get("WWW-Authenticate"), "Bearer")

	a = post(t, srv, is.token(t, "u", map[string]any{"aud": "other"}), `{ batches { totalCount } }`, nil)
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Contains(t, a.header.Get("WWW-Authenticate"), `error="invalid_token"`)

	a = post(t, srv, is.token(t, "u", nil), `{ batches { totalCount } }`, nil)
	assert.Equal(t, http.StatusForbidden, a.status, "no read scope")
	assert.Equal(t, "FORBIDDEN", a.Errors[0].Extensions["code"])

	// Rate limit 1/s, burst 2: the third request at once is refused, with
	// CORS headers so that a web app can read the answer; another caller is
	// unaffected.
	tok := is.token(t, "busy", map[string]any{"scope": "openid batchql:read"})
	for range 2 {
		require.Equal(t, http.StatusOK, post(t, srv, tok, `{ batchOperations { totalCount } }`, nil).status)
	}
	a = post(t, srv, tok, `{ batchOperations { totalCount } }`, nil)
	assert.Equal(t, http.StatusTooManyRequests, a.status)
	assert.Equal(t, "RATE_LIMITED", a.Errors[0].Extensions["code"])
	assert.NotEmpty(t, a.header.Get("Retry-After"))
	other := is.token(t, "calm", map[string]any{"scope": "batchql:read"})
	assert.Equal(t, http.StatusOK, post(t, srv, other, `{ batchOperations { totalCount } }`, nil).status)

	// /healthz stays open; a preflight needs no token.
	resp, err := http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/query", nil)
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "http://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "Authorization")
	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

// The WebSocket seam: connection_init's token becomes the caller and its
// tenant scope; a bad one is refused.
func TestSecurityWebSocketInit(t *testing.T) {
	is := newOIDCIssuer(t)
	v, err := auth.New(auth.Config{Issuer: is.url, Audience: "batchql", TenantClaim: "tenants"}, auth.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	sec := Security{Verifier: v}
	ctx, err := sec.WebSocketInit(context.Background(), map[string]any{"Authorization": "Bearer " + is.token(t, "ws", map[string]any{"tenants": []string{"B"}})})
	require.NoError(t, err)
	assert.Equal(t, []string{"B"}, storage.TenantsOf(ctx).IDs)
	_, err = sec.WebSocketInit(context.Background(), map[string]any{"Authorization": "Bearer nope"})
	assert.Error(t, err)
	_, err = sec.WebSocketInit(context.Background(), map[string]any{})
	assert.Error(t, err)
	ctx, err = Security{}.WebSocketInit(context.Background(), nil)
	require.NoError(t, err)
	assert.Nil(t, storage.TenantsOf(ctx), "authentication off: every tenant")
}

// A router with Security checks a WebSocket's connection_init itself: the
// caller of NewRouter wires nothing more. A refused connection gets no
// connection_ack and closes with 4403 (graphql-ws's code for a rejected
// init; gqlgen's default 1000 made graphql-ws clients reconnect in a loop),
// or 1013 when the issuer is down; an accepted one gets an ack that does not
// echo the token back.
func TestSecurityWebSocketThroughRouter(t *testing.T) {
	is := newOIDCIssuer(t)
	store, _ := tenantStore(t)
	srv := secureServer(t, store, is, "batchql:read", 0)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // an issuer nobody answers for
	srvDown := secureServer(t, store, &oidcIssuer{url: down.URL}, "", 0)

	init := func(t *testing.T, srv *httptest.Server, payload string) (string, coderws.StatusCode, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, msg, code, reason := wsInit(ctx, t, srv, payload)
		conn.CloseNow()
		return msg, code, reason
	}
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name, payload string
		srv           *httptest.Server
		code          coderws.StatusCode
		reason        string
	}{
		{"no token", `{}`, srv, CloseForbidden, "authentication required"},
		{"not a JWT", `{"Authorization":"Bearer nope"}`, srv, CloseForbidden, "invalid bearer token"},
		{"a long foreign issuer: the reason is cut to 123 bytes", `{"Authorization":"Bearer ` + is.token(t, "ws", map[string]any{"iss": "http://evil.example/" + long}) + `"}`,
			srv, CloseForbidden, "invalid bearer token: issuer \"http://evil.example/xxx"},
		{"expired", `{"Authorization":"Bearer ` + is.token(t, "ws", map[string]any{"scope": "batchql:read", "exp": time.Now().Add(-2 * time.Minute).Unix()}) + `"}`,
			srv, CloseForbidden, "invalid bearer token"},
		{"no read scope", `{"Authorization":"Bearer ` + is.token(t, "ws", nil) + `"}`, srv, CloseForbidden, "batchql:read"},
		{"issuer down", `{"Authorization":"Bearer ` + is.token(t, "ws", nil) + `"}`, srvDown, graph.CloseTryAgainLater, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, code, reason := init(t, tc.srv, tc.payload)
			assert.Empty(t, msg, "no connection_ack")
			assert.Equal(t, tc.code, code, "close code (reason %q)", reason)
			assert.Contains(t, reason, tc.reason)
			assert.LessOrEqual(t, len(reason), 123)
		})
	}
	tok := is.token(t, "ws", map[string]any{"scope": "batchql:read"})
	msg, code, reason := init(t, srv, `{"Authorization":"Bearer `+tok+`"}`)
	require.Equal(t, coderws.StatusCode(-1), code, "a valid token: no close (%q)", reason)
	assert.JSONEq(t, `{"type":"connection_ack"}`, msg, "a valid token: an ack without the token")

	// A connection ends when its token expires: this one's exp is 59 s
	// past, inside the 60 s leeway, so it is accepted and closed about a
	// second later.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	soon := is.token(t, "ws", map[string]any{"scope": "batchql:read", "exp": time.Now().Add(-auth.Leeway + time.Second).Unix()})
	conn, msg, code, reason := wsInit(ctx, t, srv, `{"Authorization":"Bearer `+soon+`"}`)
	defer conn.CloseNow()
	require.Equal(t, coderws.StatusCode(-1), code, "accepted (%q)", reason)
	assert.JSONEq(t, `{"type":"connection_ack"}`, msg)
	var err error
	for {
		_, _, err = conn.Read(ctx)
		if err != nil {
			break
		}
	}
	var ce coderws.CloseError
	require.ErrorAs(t, err, &ce, "closed by the server, not by the test's timeout")
	assert.Equal(t, coderws.StatusNormalClosure, ce.Code)
}

// wsInit opens a graphql-transport-ws connection to srv's /query, sends
// connection_init with payload and returns the connection (to close) and
// the first message, or the close status and reason.
func wsInit(ctx context.Context, t *testing.T, srv *httptest.Server, payload string) (*coderws.Conn, string, coderws.StatusCode, string) {
	t.Helper()
	conn, _, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
		&coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	require.NoError(t, conn.Write(ctx, coderws.MessageText, []byte(`{"type":"connection_init","payload":`+payload+`}`)))
	_, msg, err := conn.Read(ctx)
	if err != nil {
		var ce coderws.CloseError
		require.ErrorAs(t, err, &ce)
		return conn, "", ce.Code, ce.Reason
	}
	return conn, string(msg), -1, ""
}

// POST /import's guard: the import scope or the static token.
func TestSecurityImportGuard(t *testing.T) {
	is := newOIDCIssuer(t)
	v, err := auth.New(auth.Config{Issuer: is.url, Audience: "batchql"}, auth.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	assert.Nil(t, Security{}.ImportGuard("", "secret"), "authentication off: the handler's token check applies")
	reached := 0
	h := Security{Verifier: v}.ImportGuard("", "static-secret")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"import scope", "Bearer " + is.token(t, "importer", map[string]any{"scope": "batchql:import"}), http.StatusOK},
		{"static token", "Bearer static-secret", http.StatusOK},
		{"read scope only", "Bearer " + is.token(t, "reader", map[string]any{"scope": "batchql:read"}), http.StatusForbidden},
		{"no token", "", http.StatusUnauthorized},
		{"wrong static token", "Bearer static-secreT", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reached
			req := httptest.NewRequest(http.MethodPost, "/import", strings.NewReader("[]"))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.want, rec.Code)
			assert.Equal(t, tc.want == http.StatusOK, reached > before, "the handler ran")
		})
	}
}

// An SSE subscription ends when its token expires, with an
// UNAUTHENTICATED error event: this token's exp is 59 s past, inside the
// 60 s leeway, so the stream is accepted and ended about a second later.
func TestSecuritySSEEndsAtTokenExpiry(t *testing.T) {
	is := newOIDCIssuer(t)
	store, _ := tenantStore(t)
	v, err := auth.New(auth.Config{Issuer: is.url, Audience: "batchql"}, auth.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	hub := changes.New(store, changes.Options{})
	defer hub.Close()
	srv := httptest.NewServer(NewRouter(store, graph.Config{Subscriptions: hub}, nil, slog.New(slog.DiscardHandler),
		Options{Security: Security{Verifier: v}}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	soon := is.token(t, "sse", map[string]any{"exp": time.Now().Add(-auth.Leeway + time.Second).Unix()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/query", strings.NewReader(`{"query":"subscription { batchChanged { batchId } }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+soon)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body) // ends when the server ends the stream
	require.NoError(t, ctx.Err(), "ended by the server, not by the test's timeout")
	assert.Contains(t, string(body), `"message":"token expired"`)
	assert.Contains(t, string(body), `"code":"UNAUTHENTICATED"`)
}
