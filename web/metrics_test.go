package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/metrics"
	"github.com/batchql/batchql/storage"
)

func metricsRouter(t *testing.T, cfg graph.Config) (http.Handler, *metrics.Metrics, *storage.Store) {
	t.Helper()
	store, err := storage.Open(filepath.Join(t.TempDir(), "m.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	fillDemo(t, store, demo.Config{Batches: 7, Operations: 3, ItemsPerOperation: 4, Seed: 1})
	m := metrics.New(metrics.StoreStats(store))
	return NewRouter(store, cfg, nil, slog.New(slog.DiscardHandler), Options{Metrics: m, MetricsRoute: true}), m, store
}

func serveReq(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Every request to a GraphQL endpoint is counted once, by operation type,
// name and code, also when it fails before gqlgen sees it.
func TestRequestMetrics(t *testing.T) {
	h, m, _ := metricsRouter(t, graph.Config{MaxPageSize: 10, MaxBodyBytes: 2048, Introspection: true})
	post := func(body string) *httptest.ResponseRecorder {
		return serveReq(h, http.MethodPost, "/query", "application/json", body)
	}
	for range 3 {
		assert.Equal(t, http.StatusOK, post(`{"query":"query Ops { batchOperations { totalCount } }"}`).Code)
	}
	assert.Equal(t, http.StatusOK, serveReq(h, http.MethodGet, "/graphql?query=%7Bbatches%7BtotalCount%7D%7D", "", "").Code)
	assert.Contains(t, post(`{"query":"query Big { batches(first: 11) { totalCount } }"}`).Body.String(), "BAD_USER_INPUT")
	assert.Contains(t, post(`{"query":"{"}`).Body.String(), "GRAPHQL_PARSE_FAILED")
	assert.Contains(t, post(`{"query":"query V { nope }"}`).Body.String(), "GRAPHQL_VALIDATION_FAILED")
	assert.Contains(t, post(`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`).Body.String(), "PERSISTED_QUERY_NOT_FOUND")
	// Refused before gqlgen: the code of the error body.
	assert.Equal(t, http.StatusBadRequest, post(`[1]`).Code)
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(`{"query":"`+strings.Repeat(" ", 4096)+`{ batches { totalCount } }"}`).Code)
	// Not counted: other paths, and OPTIONS (no GraphQL request).
	assert.Equal(t, http.StatusOK, serveReq(h, http.MethodGet, "/healthz", "", "").Code)
	serveReq(h, http.MethodOptions, "/query", "", "")

	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP batchql_graphql_requests_total GraphQL requests answered, by operation type (query, mutation, subscription; unknown when the request failed before its operation was known), operation name (the first 100 distinct names, then "other"; empty for anonymous operations) and code (OK, or the extensions.code of the first error).
# TYPE batchql_graphql_requests_total counter
batchql_graphql_requests_total{code="BAD_USER_INPUT",operation_name="",operation_type="unknown"} 1
batchql_graphql_requests_total{code="BAD_USER_INPUT",operation_name="Big",operation_type="query"} 1
batchql_graphql_requests_total{code="GRAPHQL_PARSE_FAILED",operation_name="",operation_type="unknown"} 2
batchql_graphql_requests_total{code="GRAPHQL_VALIDATION_FAILED",operation_name="",operation_type="unknown"} 1
batchql_graphql_requests_total{code="OK",operation_name="",operation_type="query"} 1
batchql_graphql_requests_total{code="OK",operation_name="Ops",operation_type="query"} 3
batchql_graphql_requests_total{code="PERSISTED_QUERY_NOT_FOUND",operation_name="",operation_type="unknown"} 1
`), "batchql_graphql_requests_total"))

	out := serveReq(h, http.MethodGet, "/metrics", "", "").Body.String()
	assert.Contains(t, out, `batchql_graphql_request_duration_seconds_count{operation_type="query"} 5`+"\n")
	assert.Contains(t, out, `batchql_graphql_request_duration_seconds_count{operation_type="unknown"} 5`+"\n")
	assert.Contains(t, out, `batchql_records{kind="batch"} 7`+"\n")
	assert.Contains(t, out, `batchql_records{kind="batch_operation"} 3`+"\n")
	assert.NotContains(t, out, `batchql_db_size_bytes 0`+"\n")
	assert.Contains(t, out, `batchql_db_size_bytes `)
}

// An HTTP error without a GraphQL body (an authentication layer, a proxy)
// is counted with the code its status implies.
func TestRequestMetricsStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{http.StatusUnauthorized, "UNAUTHENTICATED"},
		{http.StatusForbidden, "FORBIDDEN"},
		{http.StatusTooManyRequests, "RATE_LIMITED"},
		{http.StatusServiceUnavailable, "COMPLEXITY_LIMIT_EXCEEDED"},
		{http.StatusInternalServerError, "INTERNAL_SERVER_ERROR"},
		{http.StatusRequestEntityTooLarge, "BAD_USER_INPUT"},
	} {
		m := metrics.New(nil)
		h := observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", tc.status)
		}), slog.New(slog.DiscardHandler), m)
		serveReq(h, http.MethodPost, "/query", "application/json", `{}`)
		assert.Equal(t, 1, testutil.CollectAndCount(m.Registry(), "batchql_graphql_requests_total"))
		assert.Contains(t, scrapeText(t, m), `batchql_graphql_requests_total{code="`+tc.code+`",operation_name="",operation_type="unknown"} 1`, tc.status)
	}
}

func scrapeText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// GET /metrics is served on the router only when asked (else it has a
// listener of its own), and not at all with metrics off.
func TestMetricsRoute(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "r.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	defer store.Close()
	m := metrics.New(metrics.StoreStats(store))
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name string
		obs  Options
		want int
	}{
		{"on the main listener", Options{Metrics: m, MetricsRoute: true}, http.StatusOK},
		{"on its own listener", Options{Metrics: m}, http.StatusNotFound},
		{"off", Options{MetricsRoute: true}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serveReq(NewRouter(store, graph.Config{}, nil, log, tc.obs), http.MethodGet, "/metrics", "", "")
			assert.Equal(t, tc.want, rec.Code)
			if tc.want == http.StatusOK {
				assert.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
				assert.Contains(t, rec.Body.String(), "# TYPE batchql_records gauge")
			}
		})
	}
}

// promtool (Debian package prometheus; bash test.sh installs it) finds
// nothing to complain about in /metrics after requests of every kind.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is missing: install the Debian package prometheus (bash test.sh --install-only does)")
	h, m, _ := metricsRouter(t, graph.Config{})
	serveReq(h, http.MethodPost, "/query", "application/json", `{"query":"query Ops { batchOperations { totalCount } }"}`)
	serveReq(h, http.MethodPost, "/query", "application/json", `{"query":"{"}`)
	m.ImportRecords("batch", "new", 1)
	now := timeNow()
	m.WatchSync(func() []metrics.SyncStat {
		return []metrics.SyncStat{{Engine: "camunda8", LastSuccess: &now, Errors: 1}}
	})
	m.WatchSubscriptions(func() (map[string]int, uint64) { return map[string]int{"websocket": 1}, 1 })
	m.WatchReplication(func() (uint64, time.Duration) { return 1, 0 })
	body := serveReq(h, http.MethodGet, "/metrics", "", "").Body.String()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "promtool check metrics:\n%s", out.String())
	assert.Empty(t, strings.TrimSpace(out.String()), "promtool's findings")
	for _, name := range []string{"batchql_graphql_requests_total", "batchql_graphql_request_duration_seconds", "batchql_records",
		"batchql_db_size_bytes", "batchql_import_records_total", "batchql_sync_last_success_timestamp_seconds",
		"batchql_sync_errors_total", "batchql_sync_quarantined", "batchql_subscriptions_active",
		"batchql_subscription_events_total", "batchql_replication_applied_sequence", "batchql_replication_lag_seconds",
		"go_goroutines", "process_resident_memory_bytes"} {
		assert.Contains(t, "\n"+body, "\n# HELP "+name+" ", name)
	}
}

func timeNow() time.Time { return time.Now() }

// fillDemo writes a small demo data set (the one place the tests of this
// branch call the demo generator).
func fillDemo(tb testing.TB, store *storage.Store, cfg demo.Config) {
	tb.Helper()
	_, err := demo.Write(context.Background(), store, cfg)
	require.NoError(tb, err)
}
