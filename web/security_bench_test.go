package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/auth"
	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
)

// BenchmarkQueriesAuth runs the harness's questions (graph's BenchmarkQueries:
// Q1, Q2, Q4, Q5, Q6) and a tenant-scoped batch list (B1) through the whole
// router, without the network, with authentication off, on (a verified
// token, cached as in serve, tenant claim [tenant-a]) and on without the
// token cache (every request verifies the RS256 signature):
//
//	go test ./web/ -run XXX -bench QueriesAuth -benchmem
func BenchmarkQueriesAuth(b *testing.B) {
	store, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{NoSync: true})
	require.NoError(b, err)
	defer store.Close()
	_, err = demo.Write(context.Background(), store, demo.Config{Batches: 2000, Operations: 2000, ItemsPerOperation: 100, Seed: 1})
	require.NoError(b, err)
	ctx := context.Background()
	ops, err := store.BatchOperations(ctx, storage.BatchOperationQuery{Order: []storage.Order{{Field: "BATCH_OPERATION_KEY"}}})
	require.NoError(b, err)
	op := ops.Edges[0].Node
	items, err := store.Items(ctx, storage.ItemQuery{Filter: storage.BatchOperationItemFilter{BatchOperationKey: &storage.StringFilter{Eq: &op.BatchOperationKey}}})
	require.NoError(b, err)
	item := items.Edges[len(items.Edges)-1].Node

	is := newOIDCIssuer(b)
	token := is.token(b, "bench", map[string]any{"tenants": []string{"tenant-a"}})
	log := slog.New(slog.DiscardHandler)
	router := func(cache int) http.Handler {
		if cache < 0 {
			return NewRouter(store, graph.Config{}, nil, log, Options{})
		}
		v, err := auth.New(auth.Config{Issuer: is.url, Audience: "batchql", TenantClaim: "tenants"}, auth.WithLogger(log), auth.WithTokenCache(cache))
		require.NoError(b, err)
		return NewRouter(store, graph.Config{}, nil, log, Options{Security: Security{Verifier: v}})
	}
	const itemFields = "id batchOperationKey itemKey operationType processInstanceKey rootProcessInstanceKey state processedDate errorMessage"
	const batchFields = "id batchId type totalJobs jobsCreated suspended tenantId createUserId startTime endTime completed statistics { remainingJobs completedJobs failedJobs }"
	cases := []struct {
		name, query string
		vars        map[string]any
	}{
		{"Q1", `{ batchOperations(first: 50, filter: {state: {in: [ACTIVE, SUSPENDED]}}, orderBy: [{field: START_DATE, direction: DESC}]) { totalCount pageInfo { hasNextPage endCursor } nodes { id batchOperationKey state startDate operationsTotalCount items(first: 10) { nodes { ` + itemFields + ` } } } } }`, nil},
		{"Q2", `query($key: ID!) { batchOperation(batchOperationKey: $key) { items(first: 100, filter: {state: {eq: FAILED}}, orderBy: [{field: PROCESSED_DATE, direction: DESC}]) { totalCount edges { cursor node { ` + itemFields + ` } } } } }`, map[string]any{"key": op.BatchOperationKey}},
		{"Q4", `query($pik: ID!) { batchOperationItems(filter: {processInstanceKey: {eq: $pik}}) { totalCount nodes { ` + itemFields + ` batchOperation { state } } } }`, map[string]any{"pik": item.ProcessInstanceKey}},
		{"Q5", `{ batches(first: 50, filter: {type: {eq: "instance-migration"}, failedJobs: {gt: 0}}, orderBy: [{field: START_TIME, direction: DESC}]) { totalCount nodes { ` + batchFields + ` } } }`, nil},
		{"Q6", `query($id: ID!) { node(id: $id) { id ... on BatchOperationItem { batchOperationKey itemKey state } } }`, map[string]any{"id": globalid.Item(item.BatchOperationKey, item.ItemKey)}},
		{"B1", `{ batches(first: 50, orderBy: [{field: START_TIME, direction: DESC}]) { totalCount pageInfo { hasNextPage endCursor } nodes { ` + batchFields + ` } } }`, nil},
	}
	modes := []struct {
		name  string
		cache int
		h     http.Handler
	}{{"off", -1, nil}, {"on", 10000, nil}, {"on-nocache", 0, nil}}
	for i := range modes {
		modes[i].h = router(modes[i].cache)
	}
	// Modes inner: the three figures of a question are taken close in time,
	// so a noisy machine skews them alike.
	for _, c := range cases {
		for _, mode := range modes {
			h := mode.h
			body, err := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
			require.NoError(b, err)
			serve := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				if mode.cache >= 0 {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			first := serve()
			raw, _ := io.ReadAll(first.Body)
			require.Equal(b, http.StatusOK, first.Code, "%s", raw)
			var top struct{ Errors []any }
			require.NoError(b, json.Unmarshal(raw, &top))
			require.Empty(b, top.Errors, "%s", raw)
			b.Run(c.name+"/auth="+mode.name, func(b *testing.B) {
				for b.Loop() {
					if rec := serve(); rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
				}
				b.ReportMetric(float64(len(raw)), "resp-bytes")
			})
		}
	}
}

// BenchmarkSecurityOverhead is the guards' own cost per request (CORS,
// bearer check, tenant scope) around a handler that does nothing: the
// difference auth makes to any query, free of the query's noise.
//
//	go test ./web/ -run XXX -bench SecurityOverhead -benchmem
func BenchmarkSecurityOverhead(b *testing.B) {
	is := newOIDCIssuer(b)
	token := is.token(b, "bench", map[string]any{"tenants": []string{"tenant-a", "tenant-b"}})
	log := slog.New(slog.DiscardHandler)
	cors, err := auth.ParseCORS("http://localhost:3000")
	require.NoError(b, err)
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if storage.TenantsOf(r.Context()) == nil && r.Header.Get("Authorization") != "" {
			b.Fatal("no tenant scope")
		}
	})
	for _, mode := range []struct {
		name  string
		cache int
	}{{"off", -1}, {"on", 10000}, {"on-nocache", 0}} {
		var sec Security
		if mode.cache >= 0 {
			v, err := auth.New(auth.Config{Issuer: is.url, Audience: "batchql", TenantClaim: "tenants"}, auth.WithLogger(log), auth.WithTokenCache(mode.cache))
			require.NoError(b, err)
			require.NoError(b, v.Ready(context.Background()))
			sec = Security{Verifier: v, CORS: cors}
		}
		h := sec.Wrap(noop)
		b.Run("auth="+mode.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, "/query", nil)
			req.Header.Set("Origin", "http://localhost:3000")
			if mode.cache >= 0 {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
