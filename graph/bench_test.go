package graph

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/storage"
)

// BenchmarkQueries runs the performance harness's canonical questions
// (e2e/bench/queries.json) through the whole /query handler, without the
// network, over a demo set of 200,000 items whose biggest operation holds
// 20,000, or over the database BATCHQL_BENCH_DB names (opened read-only,
// e.g. the harness's L set). It isolates the GraphQL layer's cost per
// request:
//
//	go test ./graph/ -run XXX -bench Queries -benchmem
func BenchmarkQueries(b *testing.B) {
	var store *storage.Store
	var err error
	if path := os.Getenv("BATCHQL_BENCH_DB"); path != "" {
		store, err = storage.Open(path, storage.Options{ReadOnly: true})
		require.NoError(b, err)
	} else {
		store, err = storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{NoSync: true})
		require.NoError(b, err)
		_, err = demo.Write(context.Background(), store, demo.Config{Batches: 2000, Operations: 2000, ItemsPerOperation: 100, Seed: 1})
		require.NoError(b, err)
	}
	defer store.Close()

	ctx := context.Background()
	var biggest *storage.BatchOperation
	for page, after := 1000, ""; ; {
		ops, err := store.BatchOperations(ctx, storage.BatchOperationQuery{Page: storage.PageRequest{First: &page, After: after}})
		require.NoError(b, err)
		for _, e := range ops.Edges {
			if biggest == nil || e.Node.OperationsTotalCount > biggest.OperationsTotalCount {
				biggest = e.Node
			}
		}
		if !ops.HasNextPage {
			break
		}
		after = *ops.EndCursor()
	}
	require.NotNil(b, biggest)
	items, err := store.Items(ctx, storage.ItemQuery{Filter: storage.BatchOperationItemFilter{BatchOperationKey: &storage.StringFilter{Eq: &biggest.BatchOperationKey}}})
	require.NoError(b, err)
	require.NotEmpty(b, items.Edges)
	item := items.Edges[len(items.Edges)-1].Node

	h := NewHandler(store, Config{}, slog.New(slog.DiscardHandler))
	const itemFields = "id batchOperationKey itemKey operationType processInstanceKey rootProcessInstanceKey state processedDate errorMessage"
	cases := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"Q1", `{ batchOperations(first: 50, filter: {state: {in: [ACTIVE, SUSPENDED]}}, orderBy: [{field: START_DATE, direction: DESC}]) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { id batchOperationKey batchOperationType state startDate endDate actorType actorId operationsTotalCount operationsFailedCount operationsCompletedCount errors { partitionId type message } items(first: 10) { nodes { ` + itemFields + ` } } } } }`, nil},
		{"Q2", `query($key: ID!) { batchOperation(batchOperationKey: $key) { items(first: 100, filter: {state: {eq: FAILED}}, orderBy: [{field: PROCESSED_DATE, direction: DESC}]) { totalCount edges { cursor node { ` + itemFields + ` } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`, map[string]any{"key": biggest.BatchOperationKey}},
		{"Q4", `query($pik: ID!) { batchOperationItems(filter: {processInstanceKey: {eq: $pik}}) { totalCount nodes { ` + itemFields + ` batchOperation { state } } } }`, map[string]any{"pik": item.ProcessInstanceKey}},
		{"Q5", `{ batches(first: 50, filter: {type: {eq: "instance-migration"}, failedJobs: {gt: 0}}, orderBy: [{field: START_TIME, direction: DESC}]) { totalCount nodes { id batchId type totalJobs jobsCreated batchJobsPerSeed invocationsPerBatchJob seedJobDefinitionId monitorJobDefinitionId batchJobDefinitionId suspended tenantId createUserId startTime executionStartTime endTime removalTime completed statistics { remainingJobs completedJobs failedJobs } } } }`, nil},
		{"Q6", `query($id: ID!) { node(id: $id) { id ... on BatchOperationItem { batchOperationKey itemKey operationType processInstanceKey rootProcessInstanceKey state processedDate errorMessage } } }`, map[string]any{"id": globalid.Item(item.BatchOperationKey, item.ItemKey)}},
	}
	for _, c := range cases {
		body, err := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
		require.NoError(b, err)
		serve := func() *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		// The answer must be a real one, not an error, for the figure to mean anything.
		first := serve()
		require.Equal(b, http.StatusOK, first.Code)
		raw, _ := io.ReadAll(first.Body)
		var top struct{ Errors []any }
		require.NoError(b, json.Unmarshal(raw, &top))
		require.Empty(b, top.Errors)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if rec := serve(); rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.ReportMetric(float64(len(raw)), "resp-bytes")
		})
	}
}
