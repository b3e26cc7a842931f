package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/storage"
)

// env is a running /query handler over a real bbolt file.
type env struct {
	t     *testing.T
	store *storage.Store
	srv   *httptest.Server
	logs  *syncBuffer
}

type envOptions struct {
	cfg  Config
	root func(*Resolver) generated.ResolverRoot // substitutes the resolver root
}

func newEnv(t *testing.T, opts envOptions, fill func(w *storage.Writer) error) *env {
	t.Helper()
	store, err := storage.Open(filepath.Join(t.TempDir(), "batchql.db"), storage.Options{NoSync: true, InitialMmapSize: 1 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	if fill != nil {
		require.NoError(t, store.Update(context.Background(), fill))
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var h http.Handler
	if opts.root == nil {
		h = NewHandler(store, opts.cfg, log)
	} else {
		cfg := opts.cfg.withDefaults()
		h = newServer(opts.root(&Resolver{store: store, cfg: cfg, log: log}), cfg, log)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, store: store, srv: srv, logs: logs}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gqlResponse is a GraphQL response; Data is decoded generically.
type gqlResponse struct {
	Status     int            `json:"-"`
	Data       map[string]any `json:"data"`
	Errors     []gqlError     `json:"errors"`
	Extensions map[string]any `json:"extensions"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) Code() string { c, _ := e.Extensions["code"].(string); return c }

// post sends a POST with a JSON body built from params.
func (e *env) post(params map[string]any) gqlResponse {
	e.t.Helper()
	body, err := json.Marshal(params)
	require.NoError(e.t, err)
	return e.postRaw("application/json", string(body))
}

func (e *env) postRaw(contentType, body string) gqlResponse {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL, contentType, strings.NewReader(body))
	require.NoError(e.t, err)
	return decodeResponse(e.t, resp)
}

func (e *env) get(params url.Values) gqlResponse {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "?" + params.Encode())
	require.NoError(e.t, err)
	return decodeResponse(e.t, resp)
}

func decodeResponse(t *testing.T, resp *http.Response) gqlResponse {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out gqlResponse
	require.NoError(t, json.Unmarshal(raw, &out), "response body: %s", raw)
	out.Status = resp.StatusCode
	return out
}

// query runs a query and requires that it had no errors.
func (e *env) query(q string, vars map[string]any) map[string]any {
	e.t.Helper()
	r := e.post(map[string]any{"query": q, "variables": vars})
	require.Empty(e.t, r.Errors, "query %s", q)
	require.NotNil(e.t, r.Data)
	return r.Data
}

// queryErr runs a query and requires exactly one error, which it returns.
func (e *env) queryErr(q string, vars map[string]any) gqlError {
	e.t.Helper()
	r := e.post(map[string]any{"query": q, "variables": vars})
	require.Len(e.t, r.Errors, 1, "query %s: data %v", q, r.Data)
	return r.Errors[0]
}

// at walks a decoded JSON value by object keys and list indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "%v is not an object at %q", v, p)
			v = m[p]
		case int:
			l, ok := v.([]any)
			require.True(t, ok, "%v is not a list at %d", v, p)
			require.Less(t, p, len(l))
			v = l[p]
		}
	}
	return v
}

// pluck returns field of every object in the list at path, as strings
// (null as "<nil>"). A path may continue past a list ("edges", "node"):
// the rest is applied to each element.
func pluck(t *testing.T, v any, field string, path ...any) []string {
	t.Helper()
	l := collect(t, v, path...)
	out := make([]string, len(l))
	for i, x := range l {
		switch f := at(t, x, field).(type) {
		case nil:
			out[i] = "<nil>"
		case string:
			out[i] = f
		default:
			b, _ := json.Marshal(f)
			out[i] = string(b)
		}
	}
	return out
}

func collect(t *testing.T, v any, path ...any) []any {
	t.Helper()
	for i, p := range path {
		if l, ok := v.([]any); ok {
			if _, isField := p.(string); isField {
				out := make([]any, len(l))
				for j, x := range l {
					out[j] = at(t, x, path[i:]...)
				}
				return out
			}
		}
		v = at(t, v, p)
	}
	l, ok := v.([]any)
	require.True(t, ok, "not a list at %v: %v", path, v)
	return l
}

func ts(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func ptr[T any](v T) *T { return &v }
