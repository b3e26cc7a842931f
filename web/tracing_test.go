package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/tracing"
)

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// A request with a caller's traceparent makes the tree request → GraphQL
// operation → storage query in the caller's trace, with the operation's
// type, name and document and the query's plan and keys read.
func TestTraceTree(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "t.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	defer store.Close()
	fillDemo(t, store, demo.Config{Batches: 30, Operations: 3, ItemsPerOperation: 4, Seed: 1})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	h := NewRouter(store, graph.Config{}, nil, slog.New(slog.DiscardHandler), Options{Tracing: tracing.New(tp)})

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	doc := `query Suspended { batches(first: 5, filter: {suspended: false}) { totalCount nodes { batchId } } }`
	req := jsonRequest(t, http.MethodPost, "/query", map[string]any{"query": doc})
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	rec := serveRequest(h, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NotContains(t, rec.Body.String(), `"errors"`)

	spans := exp.GetSpans().Snapshots()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		assert.Equal(t, traceID, s.SpanContext().TraceID().String(), "span %q continues the caller's trace", s.Name())
		byName[s.Name()] = s
	}
	request, op, query := byName["POST /query"], byName["query Suspended"], byName["storage query batch"]
	require.NotNil(t, request, "spans: %v", names(spans))
	require.NotNil(t, op, "spans: %v", names(spans))
	require.NotNil(t, query, "spans: %v", names(spans))
	assert.Equal(t, parentID, request.Parent().SpanID().String(), "the request span's parent is the caller's")
	assert.True(t, request.Parent().IsRemote())
	assert.Equal(t, request.SpanContext().SpanID(), op.Parent().SpanID(), "operation under request")
	assert.Equal(t, op.SpanContext().SpanID(), query.Parent().SpanID(), "storage query under operation")

	a := attrs(op)
	assert.Equal(t, "query", a["graphql.operation.type"].AsString())
	assert.Equal(t, "Suspended", a["graphql.operation.name"].AsString())
	assert.Equal(t, doc, a["graphql.document"].AsString())
	a = attrs(query)
	assert.Equal(t, "batch", a["batchql.storage.kind"].AsString())
	assert.Contains(t, a["batchql.storage.plan"].AsString(), "index ")
	assert.GreaterOrEqual(t, a["batchql.storage.keys_read"].AsInt64(), int64(5), "at least the page's keys")
	assert.True(t, a["batchql.storage.total_count"].AsBool())

	// A failing operation marks its span with the error code.
	exp.Reset()
	serveRequest(h, jsonRequest(t, http.MethodPost, "/query", map[string]any{"query": `query Bad { batches(first: -1) { totalCount } }`}))
	var bad sdktrace.ReadOnlySpan
	for _, s := range exp.GetSpans().Snapshots() {
		if s.Name() == "query Bad" {
			bad = s
		}
	}
	require.NotNil(t, bad)
	assert.Equal(t, "BAD_USER_INPUT", attrs(bad)["graphql.error.code"].AsString())
	assert.Equal(t, "Error", bad.Status().Code.String())
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func jsonRequest(t *testing.T, method, target string, body any) *http.Request {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req := httptest.NewRequest(method, target, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func serveRequest(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
