package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeStore struct {
	counts map[string]int64
	size   int64
	err    error
}

func (f fakeStore) Records(context.Context) (map[string]int64, error) { return f.counts, f.err }
func (f fakeStore) Size() (int64, error)                              { return f.size, f.err }

func TestGraphQLRequests(t *testing.T) {
	m := New(nil)
	m.GraphQLRequest("query", "Ops", CodeOK, 2*time.Millisecond)
	m.GraphQLRequest("query", "Ops", "", 3*time.Millisecond)
	m.GraphQLRequest("query", "", "BAD_USER_INPUT", time.Millisecond)
	m.GraphQLRequest("", "", "GRAPHQL_PARSE_FAILED", time.Millisecond)
	m.GraphQLRequest("mutation", "M", CodeOK, 40*time.Second)
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP batchql_graphql_requests_total GraphQL requests answered, by operation type (query, mutation, subscription; unknown when the request failed before its operation was known), operation name (the first 100 distinct names, then "other"; empty for anonymous operations) and code (OK, or the extensions.code of the first error).
# TYPE batchql_graphql_requests_total counter
batchql_graphql_requests_total{code="BAD_USER_INPUT",operation_name="",operation_type="query"} 1
batchql_graphql_requests_total{code="GRAPHQL_PARSE_FAILED",operation_name="",operation_type="unknown"} 1
batchql_graphql_requests_total{code="OK",operation_name="M",operation_type="mutation"} 1
batchql_graphql_requests_total{code="OK",operation_name="Ops",operation_type="query"} 2
`), "batchql_graphql_requests_total"))
	assert.Equal(t, 3, histogramCount(t, m, "query"))
	assert.Equal(t, 1, histogramCount(t, m, "mutation"))
	assert.Equal(t, 1, histogramCount(t, m, "unknown"))
}

func histogramCount(t *testing.T, m *Metrics, opType string) int {
	t.Helper()
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "batchql_graphql_request_duration_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			if mt.GetLabel()[0].GetValue() == opType {
				return int(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// At most MaxOperationNames names get series of their own; the rest are
// "other", and the names seen first keep theirs.
func TestOperationNamesBounded(t *testing.T) {
	m := New(nil)
	for i := range MaxOperationNames + 20 {
		m.GraphQLRequest("query", fmt.Sprintf("Op%d", i), CodeOK, time.Millisecond)
	}
	m.GraphQLRequest("query", "Op0", CodeOK, time.Millisecond)
	m.GraphQLRequest("query", "", CodeOK, time.Millisecond)
	assert.Equal(t, MaxOperationNames+2, testutil.CollectAndCount(m.requests), "100 names, other and anonymous")
	assert.Equal(t, 20.0, testutil.ToFloat64(m.requests.WithLabelValues("query", OtherOperation, CodeOK)))
	assert.Equal(t, 2.0, testutil.ToFloat64(m.requests.WithLabelValues("query", "Op0", CodeOK)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("query", "Op99", CodeOK)))
}

// The metrics of features that call in (import) record what they are
// told; those of features that keep their own figures (sync,
// subscriptions, replication) read them at the scrape.
func TestRecordingMethods(t *testing.T) {
	m := New(nil)
	m.ImportRecords("batch operation item", "new", 5)
	m.ImportRecords("batch operation item", "new", 2)
	m.ImportRecords("batch", "rejected", 1)
	m.ImportRecords("batch", "updated", 0) // no series for nothing
	at := time.Unix(1700000000, 500_000_000)
	m.WatchSync(func() []SyncStat {
		return []SyncStat{{Engine: "camunda8", LastSuccess: &at, Quarantined: 3}, {Engine: "camunda7", Errors: 2}}
	})
	m.WatchSubscriptions(func() (map[string]int, uint64) { return map[string]int{"websocket": 1}, 1 })
	m.WatchReplication(func() (uint64, time.Duration) { return 42, 1500 * time.Millisecond })

	for _, tc := range []struct{ name, want string }{
		{"batchql_import_records_total", `
batchql_import_records_total{kind="batch",outcome="rejected"} 1
batchql_import_records_total{kind="batch_operation_item",outcome="new"} 7
`},
		{"batchql_sync_last_success_timestamp_seconds", `batchql_sync_last_success_timestamp_seconds{engine="camunda8"} 1.7000000005e+09`},
		{"batchql_sync_errors_total", `batchql_sync_errors_total{engine="camunda7"} 2`},
		{"batchql_sync_quarantined", `batchql_sync_quarantined{engine="camunda8"} 3`},
		{"batchql_subscriptions_active", `
batchql_subscriptions_active{transport="sse"} 0
batchql_subscriptions_active{transport="websocket"} 1
`},
		{"batchql_subscription_events_total", `batchql_subscription_events_total 1`},
		{"batchql_replication_applied_sequence", `batchql_replication_applied_sequence 42`},
		{"batchql_replication_lag_seconds", `batchql_replication_lag_seconds 1.5`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := scrape(t, m)
			for _, line := range strings.Split(strings.TrimSpace(tc.want), "\n") {
				assert.Contains(t, out, line+"\n")
			}
			assert.Contains(t, out, "# HELP "+tc.name+" ")
		})
	}
}

// WatchReplication reads the figures at each scrape.
func TestWatchReplication(t *testing.T) {
	m := New(nil)
	applied, lag := uint64(7), 250*time.Millisecond
	m.WatchReplication(func() (uint64, time.Duration) { return applied, lag })
	out := scrape(t, m)
	assert.Contains(t, out, "batchql_replication_applied_sequence 7\n")
	assert.Contains(t, out, "batchql_replication_lag_seconds 0.25\n")
	assert.Contains(t, out, "# HELP batchql_replication_lag_seconds ")
	applied, lag = 9, 0
	out = scrape(t, m)
	assert.Contains(t, out, "batchql_replication_applied_sequence 9\n")
	assert.Contains(t, out, "batchql_replication_lag_seconds 0\n")
	var off *Metrics
	assert.NotPanics(t, func() { off.WatchReplication(func() (uint64, time.Duration) { return 0, 0 }) })
}

// A nil *Metrics (metrics off) takes every call.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	assert.NotPanics(t, func() {
		m.GraphQLRequest("query", "A", CodeOK, time.Millisecond)
		m.ImportRecords("batch", "new", 1)
		m.WatchSync(func() []SyncStat { return nil })
		m.WatchSubscriptions(func() (map[string]int, uint64) { return nil, 0 })
		m.WatchReplication(func() (uint64, time.Duration) { return 0, 0 })
	})
}

// The store's record counts and size are read at each scrape; a failed
// read makes the scrape fail with the reason, not report zeros.
func TestStoreCollector(t *testing.T) {
	st := &fakeStore{counts: map[string]int64{"batch": 3, "batch_operation": 2, "batch_operation_item": 40}, size: 65536}
	m := New(st)
	out := scrape(t, m)
	for _, line := range []string{
		`batchql_records{kind="batch"} 3`, `batchql_records{kind="batch_operation"} 2`,
		`batchql_records{kind="batch_operation_item"} 40`, `batchql_db_size_bytes 65536`,
		"# TYPE go_goroutines gauge", "# TYPE process_cpu_seconds_total counter",
	} {
		assert.Contains(t, out, line+"\n")
	}
	st.counts["batch"] = 4
	assert.Contains(t, scrape(t, m), `batchql_records{kind="batch"} 4`+"\n", "read again at the next scrape")

	st.err = errors.New("database not open")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, rec.Body.String(), "database not open")
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(b)
}

// Concurrent requests with more names than the bound: every request is
// counted once and the bound holds.
func TestGraphQLRequestsConcurrent(t *testing.T) {
	m := New(nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				m.GraphQLRequest("query", fmt.Sprintf("Op%d", (g*50+i)%150), CodeOK, time.Millisecond)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, MaxOperationNames+1, testutil.CollectAndCount(m.requests), "100 names and other")
	total := 0.0
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "batchql_graphql_requests_total" {
			for _, mt := range mf.GetMetric() {
				total += mt.GetCounter().GetValue()
			}
		}
	}
	assert.Equal(t, 400.0, total)
	assert.Equal(t, 400, histogramCount(t, m, "query"))
}
