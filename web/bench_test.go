package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/metrics"
	"github.com/batchql/batchql/storage"
)

// q6 is the performance harness's Q6 (e2e/bench/queries.json): one item by
// its global id.
const q6 = `query Q6($id: ID!) { node(id: $id) { id ... on BatchOperationItem { batchOperationKey itemKey operationType processInstanceKey rootProcessInstanceKey state processedDate errorMessage } } }`

// BenchmarkQ6Metrics measures the request metrics' cost on the cheapest
// query, in process through the whole router (access log off, as in
// production at level warn):
//
//	go test ./web -run '^$' -bench Q6Metrics -count 6 -benchtime 2s
//
// Figures: README "Monitoring".
func BenchmarkQ6Metrics(b *testing.B) {
	store, err := storage.Open(filepath.Join(b.TempDir(), "q6.db"), storage.Options{NoSync: true})
	require.NoError(b, err)
	defer store.Close()
	fillDemo(b, store, demo.Config{Operations: 20, ItemsPerOperation: 50, Seed: 1})
	log := slog.New(slog.DiscardHandler)

	// An item's id, from the API.
	h := NewRouter(store, graph.Config{}, nil, log, Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, benchRequest(b, `{ batchOperations(first: 1) { nodes { items(first: 1) { nodes { id } } } } }`, nil))
	var page struct {
		Data struct {
			BatchOperations struct {
				Nodes []struct {
					Items struct{ Nodes []struct{ ID string } }
				}
			}
		}
	}
	require.NoError(b, json.Unmarshal(rec.Body.Bytes(), &page), rec.Body.String())
	id := page.Data.BatchOperations.Nodes[0].Items.Nodes[0].ID
	body, err := json.Marshal(map[string]any{"query": q6, "variables": map[string]any{"id": id}})
	require.NoError(b, err)

	for _, bc := range []struct {
		name string
		m    *metrics.Metrics
	}{
		{"metrics=off", nil},
		{"metrics=on", metrics.New(metrics.StoreStats(store))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := NewRouter(store, graph.Config{}, nil, log, Options{Metrics: bc.m})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, benchRequest(b, "", body))
			require.Contains(b, rec.Body.String(), `"itemKey"`)
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, benchRequest(b, "", body))
					if rec.Code != http.StatusOK {
						b.Fatal(rec.Body.String())
					}
				}
			})
			// CPU time per request: on a machine shared with other work,
			// wall time per request varies by 3x between runs; the CPU the
			// process spends per request does not.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func benchRequest(b *testing.B, query string, body []byte) *http.Request {
	if body == nil {
		body, _ = json.Marshal(map[string]any{"query": query})
	}
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// BenchmarkObserve measures what the middleware adds to one request around
// a handler that does nothing but answer as gqlgen would: the operation
// holder, the status writer and, with metrics, the counter and histogram.
func BenchmarkObserve(b *testing.B) {
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op := graph.OperationFrom(r.Context()); op != nil {
			*op = graph.Operation{Answered: true, Type: "query", Name: "Q6"}
		}
		w.WriteHeader(http.StatusOK)
	})
	log := slog.New(slog.DiscardHandler)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"none", answer},
		{"metrics=off", observe(answer, log, nil)},
		{"metrics=on", observe(answer, log, metrics.New(nil))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, "/query", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
