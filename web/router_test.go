package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
)

func TestRouter(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "r.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := NewRouter(store, graph.Config{MaxPageSize: 10, Introspection: true}, cdnPlayground(t), log, Options{})
	serve := func(method, target, body string) *httptest.ResponseRecorder {
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		return serveReq(h, method, target, ct, body)
	}

	rec := serve(http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
	assert.Equal(t, http.StatusMethodNotAllowed, serve(http.MethodPost, "/healthz", "").Code)
	assert.Equal(t, http.StatusOK, serve(http.MethodGet, "/", "").Code)
	assert.Equal(t, http.StatusNotFound, serve(http.MethodGet, "/index.html", "").Code)

	// The configured page size reaches the GraphQL layer.
	rec = serve(http.MethodPost, "/query", `{"query":"query Big { batches(first: 11) { totalCount } }"}`)
	assert.Contains(t, rec.Body.String(), "BAD_USER_INPUT")
	assert.Contains(t, logs.String(), "operation=Big")

	// /graphql is the same endpoint as /query, GET and POST.
	rec = serve(http.MethodPost, "/graphql", `{"query":"query Small { batches(first: 2) { totalCount } }"}`)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"data":{"batches":{"totalCount":0}}}`, rec.Body.String())
	assert.Contains(t, logs.String(), "path=/graphql status=200")
	assert.Contains(t, logs.String(), "operation=Small")
	rec = serve(http.MethodGet, "/graphql?"+url.Values{"query": {"query Got { batchOperations { totalCount } }"}}.Encode(), "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"data":{"batchOperations":{"totalCount":0}}}`, rec.Body.String())
	assert.Contains(t, logs.String(), "operation=Got")
	rec = serve(http.MethodPost, "/graphql", `{"query":"query Big { batches(first: 11) { totalCount } }"}`)
	assert.Contains(t, rec.Body.String(), "BAD_USER_INPUT", "the same configuration")

	// A store that cannot read makes /healthz fail.
	require.NoError(t, store.Close())
	rec = serve(http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.JSONEq(t, `{"status":"unavailable"}`, rec.Body.String())
	assert.Contains(t, logs.String(), "healthz: read transaction failed")
	assert.Contains(t, logs.String(), "path=/healthz status=503")
}

// The playground's default query, with its variables, finds records in the
// demo data set.
func TestPlaygroundDefaultQueryRunsOnDemoData(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "demo.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	defer store.Close()
	_, err = demo.Write(context.Background(), store, demo.DefaultConfig())
	require.NoError(t, err)
	h := NewRouter(store, graph.Config{MaxPageSize: 1000}, nil, slog.New(slog.DiscardHandler), Options{})

	body, err := json.Marshal(map[string]any{"query": DefaultQuery, "variables": json.RawMessage(DefaultVariables)})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var resp struct {
		Data struct {
			BatchOperations struct {
				TotalCount int
				Nodes      []struct {
					BatchOperationKey, State string
					Items                    struct{ TotalCount int }
				}
			}
			Batches struct {
				TotalCount int
				Nodes      []struct{ BatchID string }
			}
		}
		Errors []any
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), rec.Body.String())
	require.Empty(t, resp.Errors, rec.Body.String())
	ops := resp.Data.BatchOperations
	assert.Greater(t, ops.TotalCount, 5)
	require.Len(t, ops.Nodes, 5, "first: 5 from the variables")
	failedItems := 0
	for _, n := range ops.Nodes {
		assert.Contains(t, []string{"FAILED", "PARTIALLY_COMPLETED"}, n.State, n.BatchOperationKey)
		failedItems += n.Items.TotalCount
	}
	assert.Positive(t, failedItems, "the operations shown have failed items")
	assert.Positive(t, resp.Data.Batches.TotalCount)
	assert.Len(t, resp.Data.Batches.Nodes, 3)
}
