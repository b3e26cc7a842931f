package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
)

// logLine serves one request through a router that logs into a buffer and
// returns the request's log line and response.
type logRouter struct {
	h    http.Handler
	logs *bytes.Buffer
}

func newLogRouter(t *testing.T) *logRouter {
	t.Helper()
	store, err := storage.Open(filepath.Join(t.TempDir(), "log.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &logRouter{h: NewRouter(store, graph.Config{MaxPageSize: 10, Introspection: true}, nil, log, Options{}), logs: &logs}
}

func (lr *logRouter) do(method, target, body string) (line string, rec *httptest.ResponseRecorder) {
	lr.logs.Reset()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	rec = httptest.NewRecorder()
	lr.h.ServeHTTP(rec, req)
	return lr.logs.String(), rec
}

var loggedOperation = regexp.MustCompile(` operation=(\S+)`)

func operationOf(line string) string {
	if m := loggedOperation.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// The access log names the operation that ran, as gqlgen saw it: for POST
// (whatever the order of the body's members and its size), GET and
// persisted queries, without reading the body itself.
func TestAccessLogOperationName(t *testing.T) {
	lr := newLogRouter(t)
	big := strings.Repeat(" ", 64<<10)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"named", `{"query":"query A($n: Int) { batches(first: $n) { totalCount } }","operationName":"A","variables":{"n":1}}`, "A"},
		{"first", `{"operationName":"B","query":"query B { batches { totalCount } }"}`, "B"},
		{"null", `{"query":"{ batches { totalCount } }","operationName":null}`, ""},
		{"absent", `{"query":"{ batches { totalCount } }"}`, ""},
		{"from query", `{"query":"# list\n query  Ops($a: Int) { batches(first: $a) { totalCount } }","variables":{}}`, "Ops"},
		{"from query, null name", `{"query":"query Q { batches { totalCount } }","operationName":null}`, "Q"},
		{"name wins", `{"query":"query Q { batches { totalCount } } query R { batches { totalCount } }","operationName":"R"}`, "R"},
		{"anonymous", `{"query":"query { batches { totalCount } }"}`, ""},
		{"fragment first", `{"query":"fragment F on BatchConnection { totalCount } query Q { batches { ...F } }"}`, "Q"},
		{"field error", `{"query":"query Big { batches(first: 11) { totalCount } }"}`, "Big"},
		{"invalid document, requested name", `{"query":"query V { nope }","operationName":"V"}`, "V"},
		{"batch", `[{"query":"{ batches { totalCount } }","operationName":"C"}]`, ""},
		{"garbage", `not json`, ""},
		{"long", `{"operationName":"D","query":"` + big + `query D { batches { totalCount } }"}`, "D"},
		{"long, name last", `{"query":"` + big + `query E { batches { totalCount } }","operationName":"E"}`, "E"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, _ := lr.do(http.MethodPost, "/query", tc.body)
			assert.Contains(t, line, "method=POST path=/query")
			assert.Equal(t, tc.want, operationOf(line), line)
		})
	}

	line, rec := lr.do(http.MethodGet, "/query?query=%7Bbatches%7BtotalCount%7D%7D&operationName=", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "", operationOf(line))
	line, _ = lr.do(http.MethodGet, "/query?"+url.Values{"query": {"query G { batches { totalCount } }"}, "operationName": {"G"}}.Encode(), "")
	assert.Equal(t, "G", operationOf(line), line)
	line, _ = lr.do(http.MethodGet, "/query?"+url.Values{"query": {"query Named { batches { totalCount } }"}}.Encode(), "")
	assert.Equal(t, "Named", operationOf(line), line)
	line, _ = lr.do(http.MethodPost, "/graphql", `{"query":"query I { batches { totalCount } }"}`)
	assert.Equal(t, "I", operationOf(line), line)
	line, rec = lr.do(http.MethodPost, "/other", `{"operationName":"H"}`)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, line, "path=/other status=404")
	assert.Equal(t, "", operationOf(line))

	// Automatic persisted queries: the document is registered by a POST
	// and then sent by hash alone, by GET and by POST.
	doc := "query Persisted { batchOperations { totalCount } }"
	sum := sha256.Sum256([]byte(doc))
	ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`
	body, err := json.Marshal(map[string]any{"query": doc, "extensions": json.RawMessage(ext)})
	require.NoError(t, err)
	line, rec = lr.do(http.MethodPost, "/query", string(body))
	assert.JSONEq(t, `{"data":{"batchOperations":{"totalCount":0}}}`, rec.Body.String())
	assert.Equal(t, "Persisted", operationOf(line), line)
	line, rec = lr.do(http.MethodGet, "/query?"+url.Values{"extensions": {ext}}.Encode(), "")
	assert.JSONEq(t, `{"data":{"batchOperations":{"totalCount":0}}}`, rec.Body.String())
	assert.Equal(t, "Persisted", operationOf(line), "a GET by hash alone: "+line)
	line, rec = lr.do(http.MethodPost, "/query", `{"extensions":`+ext+`}`)
	assert.JSONEq(t, `{"data":{"batchOperations":{"totalCount":0}}}`, rec.Body.String())
	assert.Equal(t, "Persisted", operationOf(line), "a POST by hash alone: "+line)

	// /healthz is logged at debug level, without an operation.
	line, _ = lr.do(http.MethodGet, "/healthz", "")
	assert.Contains(t, line, "level=DEBUG")
	assert.Contains(t, line, "path=/healthz status=200")
}

// With the log above info and no metrics, requests pass straight through.
func TestAccessLogOff(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	called := false
	h := observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		assert.Nil(t, graph.OperationFrom(r.Context()), "no operation holder when nothing reads it")
		w.WriteHeader(http.StatusTeapot)
	}), log, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{}`)))
	assert.True(t, called)
	assert.Equal(t, http.StatusTeapot, rec.Code)
	assert.Empty(t, logs.String())
}
