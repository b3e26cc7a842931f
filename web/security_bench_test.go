package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/auth"
	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
)

// queriesAuth is the set-up of the auth benchmarks: the demo set (2,000
// operations of 100 items, 2,000 batches), the harness's questions (graph's
// BenchmarkQueries: Q1, Q2, Q4, Q5, Q6) and a tenant-scoped batch list (B1),
// an issuer and a token of tenant [tenant-a].
type queriesAuth struct {
	store *storage.Store
	is    *oidcIssuer
	token string
	cases []authCase
}

type authCase struct {
	name string
	body []byte // the POST body
}

func newQueriesAuth(b *testing.B) *queriesAuth {
	store, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{NoSync: true})
	require.NoError(b, err)
	b.Cleanup(func() { store.Close() })
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
	const itemFields = "id batchOperationKey itemKey operationType processInstanceKey rootProcessInstanceKey state processedDate errorMessage"
	const batchFields = "id batchId type totalJobs jobsCreated suspended tenantId createUserId startTime endTime completed statistics { remainingJobs completedJobs failedJobs }"
	qa := &queriesAuth{store: store, is: is, token: is.token(b, "bench", map[string]any{"tenants": []string{"tenant-a"}})}
	for _, c := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"Q1", `{ batchOperations(first: 50, filter: {state: {in: [ACTIVE, SUSPENDED]}}, orderBy: [{field: START_DATE, direction: DESC}]) { totalCount pageInfo { hasNextPage endCursor } nodes { id batchOperationKey state startDate operationsTotalCount items(first: 10) { nodes { ` + itemFields + ` } } } } }`, nil},
		{"Q2", `query($key: ID!) { batchOperation(batchOperationKey: $key) { items(first: 100, filter: {state: {eq: FAILED}}, orderBy: [{field: PROCESSED_DATE, direction: DESC}]) { totalCount edges { cursor node { ` + itemFields + ` } } } } }`, map[string]any{"key": op.BatchOperationKey}},
		{"Q4", `query($pik: ID!) { batchOperationItems(filter: {processInstanceKey: {eq: $pik}}) { totalCount nodes { ` + itemFields + ` batchOperation { state } } } }`, map[string]any{"pik": item.ProcessInstanceKey}},
		{"Q5", `{ batches(first: 50, filter: {type: {eq: "instance-migration"}, failedJobs: {gt: 0}}, orderBy: [{field: START_TIME, direction: DESC}]) { totalCount nodes { ` + batchFields + ` } } }`, nil},
		{"Q6", `query($id: ID!) { node(id: $id) { id ... on BatchOperationItem { batchOperationKey itemKey state } } }`, map[string]any{"id": globalid.Item(item.BatchOperationKey, item.ItemKey)}},
		{"B1", `{ batches(first: 50, orderBy: [{field: START_TIME, direction: DESC}]) { totalCount pageInfo { hasNextPage endCursor } nodes { ` + batchFields + ` } } }`, nil},
	} {
		body, err := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
		require.NoError(b, err)
		qa.cases = append(qa.cases, authCase{c.name, body})
	}
	return qa
}

// router is the whole router with authentication off (cache < 0) or on with
// a token cache of that size (0: every request verifies the signature).
func (qa *queriesAuth) router(b *testing.B, cache int) http.Handler {
	log := slog.New(slog.DiscardHandler)
	if cache < 0 {
		return NewRouter(qa.store, graph.Config{}, nil, log, Options{})
	}
	v, err := auth.New(auth.Config{Issuer: qa.is.url, Audience: "batchql", TenantClaim: "tenants"}, auth.WithLogger(log), auth.WithTokenCache(cache))
	require.NoError(b, err)
	require.NoError(b, v.Ready(context.Background()))
	return NewRouter(qa.store, graph.Config{}, nil, log, Options{Security: Security{Verifier: v}})
}

// request returns a function that serves case c through h, with the bearer
// token when withToken, and checks the first answer (200, no errors); it
// returns that answer's size.
func (qa *queriesAuth) request(b *testing.B, h http.Handler, c authCase, withToken bool) (serve func() int, size int) {
	do := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if withToken {
			req.Header.Set("Authorization", "Bearer "+qa.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := do()
	raw, _ := io.ReadAll(rec.Body)
	require.Equal(b, http.StatusOK, rec.Code, "%s", raw)
	var top struct{ Errors []any }
	require.NoError(b, json.Unmarshal(raw, &top))
	require.Empty(b, top.Errors, "%s", raw)
	return func() int { return do().Code }, len(raw)
}

// BenchmarkQueriesAuth runs the questions (queriesAuth) through the whole
// router, without the network, with authentication off, on (a verified
// token, cached as in serve, tenant claim [tenant-a]) and on without the
// token cache (every request verifies the RS256 signature):
//
//	go test ./web/ -run XXX -bench 'QueriesAuth$' -benchmem
//
// On a shared machine the three figures of a question drift apart with the
// load; BenchmarkQueriesAuthRatio is the robust comparison.
func BenchmarkQueriesAuth(b *testing.B) {
	qa := newQueriesAuth(b)
	modes := []struct {
		name  string
		cache int
		h     http.Handler
	}{{"off", -1, nil}, {"on", 10000, nil}, {"on-nocache", 0, nil}}
	for i := range modes {
		modes[i].h = qa.router(b, modes[i].cache)
	}
	// Modes inner: the three figures of a question are taken close in time,
	// so a noisy machine skews them alike.
	for _, c := range qa.cases {
		for _, mode := range modes {
			serve, size := qa.request(b, mode.h, c, mode.cache >= 0)
			b.Run(c.name+"/auth="+mode.name, func(b *testing.B) {
				for b.Loop() {
					if code := serve(); code != http.StatusOK {
						b.Fatalf("status %d", code)
					}
				}
				b.ReportMetric(float64(size), "resp-bytes")
			})
		}
	}
}

// BenchmarkQueriesAuthRatio is the throughput ratio auth on / auth off of
// each question, measured so that a shared machine's load cancels out: each
// iteration is one round of two halves, the same number of requests with
// auth off and with auth on (the token cached, as a client that reuses its
// token until it expires gets it), back to back, in alternating order (off
// first in even rounds, on first in odd ones: ABBA, so a load that rises or
// falls during the run favours neither). A round's ratio is time(off) /
// time(on), the throughput of on relative to off, by the wall clock and by
// the process's CPU time (all threads, the garbage collector's too: the
// throughput of a CPU-bound server; it leaves out the time other processes
// hold the cores, not their toll on caches: at load average 11 on 2 cores
// its rounds spread about as widely as the wall clock's). The metrics are
// the medians over the rounds with their quartiles (and the CPU ratio's
// extremes), the median CPU µs per request of each mode, and the heap
// objects a request of each mode allocates (the mean over the rounds: the
// one figure the load does not move). A half takes about 25 ms (calibrated
// per question on auth off); -benchtime sets the number of rounds:
//
//	go test ./web/ -run XXX -bench QueriesAuthRatio -benchtime 41x
func BenchmarkQueriesAuthRatio(b *testing.B) {
	qa := newQueriesAuth(b)
	offH, onH := qa.router(b, -1), qa.router(b, 10000)
	for _, c := range qa.cases {
		off, _ := qa.request(b, offH, c, false)
		on, _ := qa.request(b, onH, c, true)
		// run serves n requests; it returns their wall-clock and CPU time
		// and the heap objects they allocated (the load does not move it).
		run := func(serve func() int, n int) (wall, cpu time.Duration, allocs uint64) {
			start := time.Now()
			cpu0, a0 := cpuTime(), heapObjects()
			for range n {
				if code := serve(); code != http.StatusOK {
					b.Fatalf("status %d", code)
				}
			}
			cpu1, a1 := cpuTime(), heapObjects()
			return time.Since(start), cpu1 - cpu0, a1 - a0
		}
		// Requests per half: ~25 ms of auth off, after a warm-up of both.
		run(on, 100)
		run(off, 100)
		warm, _, _ := run(off, 100)
		n := max(1, int(25*time.Millisecond/max(warm/100, time.Microsecond)))
		b.Run(c.name, func(b *testing.B) {
			var wall, cpu, offCPU, onCPU []float64
			var offAllocs, onAllocs uint64
			for b.Loop() {
				var wOff, wOn, cOff, cOn time.Duration
				var aOff, aOn uint64
				if len(wall)%2 == 0 {
					wOff, cOff, aOff = run(off, n)
					wOn, cOn, aOn = run(on, n)
				} else {
					wOn, cOn, aOn = run(on, n)
					wOff, cOff, aOff = run(off, n)
				}
				offAllocs += aOff
				onAllocs += aOn
				wall = append(wall, float64(wOff)/float64(wOn))
				cpu = append(cpu, float64(cOff)/float64(max(cOn, time.Microsecond)))
				offCPU = append(offCPU, float64(cOff)/float64(time.Microsecond)/float64(n))
				onCPU = append(onCPU, float64(cOn)/float64(time.Microsecond)/float64(n))
			}
			b.ReportMetric(quantile(wall, 0.5), "on/off-wall")
			b.ReportMetric(quantile(wall, 0.25), "on/off-wall-p25")
			b.ReportMetric(quantile(wall, 0.75), "on/off-wall-p75")
			b.ReportMetric(quantile(cpu, 0.5), "on/off-cpu")
			b.ReportMetric(quantile(cpu, 0.25), "on/off-cpu-p25")
			b.ReportMetric(quantile(cpu, 0.75), "on/off-cpu-p75")
			b.ReportMetric(quantile(cpu, 0), "on/off-cpu-min")
			b.ReportMetric(quantile(cpu, 1), "on/off-cpu-max")
			b.ReportMetric(quantile(offCPU, 0.5), "off-cpu-µs/req")
			b.ReportMetric(quantile(onCPU, 0.5), "on-cpu-µs/req")
			b.ReportMetric(float64(offAllocs)/float64(n*len(wall)), "off-allocs/req")
			b.ReportMetric(float64(onAllocs)/float64(n*len(wall)), "on-allocs/req")
			b.ReportMetric(float64(n), "req/half")
		})
	}
}

// heapObjects is the number of heap objects the process allocated so far
// (runtime/metrics: no stop of the world, unlike runtime.ReadMemStats).
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// quantile is the q-quantile of xs (0: the least, 1: the greatest), the
// nearest rank of a sorted copy.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(math.Round(q*float64(len(s)-1)))]
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
