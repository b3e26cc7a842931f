// Package metrics is batchql's Prometheus instrumentation: one registry of
// its own (not the global one) holding every metric the contract names
// (§12). Events nothing else counts (GraphQL requests, imported records)
// have a recording method, which the HTTP surface and the GraphQL handler
// call; figures the components already keep (the store's records, the
// syncer's status, the subscription hub's counters, the replication node's
// position) are read from them at each scrape (StoreStats, WatchSync,
// WatchSubscriptions, WatchReplication). No other package registers a
// metric of its own.
//
// Every method is safe on a nil *Metrics and then does nothing: that is
// how metrics are off (serve --metrics=false).
package metrics

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxOperationNames bounds the distinct operation_name label values: the
// first MaxOperationNames names seen keep their own series, later ones
// are counted as OtherOperation.
const MaxOperationNames = 100

// OtherOperation is the operation_name of operations past
// MaxOperationNames distinct names.
const OtherOperation = "other"

// Operation types of batchql_graphql_requests_total besides GraphQL's
// query, mutation and subscription.
const (
	// TypeUnknown is a request that failed before its operation was known
	// (a body too large, a document that does not parse, a denied token).
	TypeUnknown = "unknown"
)

// CodeOK is the code label of a request without errors.
const CodeOK = "OK"

// Store is what the scrape-time collector reads: the record counts by kind
// and the database file's size. *storage.Store satisfies it through
// StoreStats.
type Store interface {
	// Records returns the number of stored records by kind.
	Records(ctx context.Context) (map[string]int64, error)
	// Size returns the database file's size in bytes.
	Size() (int64, error)
}

// Metrics holds batchql's metrics. The zero value is not usable; a nil
// *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	importRecords *prometheus.CounterVec

	watched *watched // sync, subscriptions, replication

	mu    sync.RWMutex
	names map[string]bool // the operation names with a series of their own

	// series caches the counter and histogram of each label set of
	// batchql_graphql_requests_total whose name is not OtherOperation
	// (bounded by the names), sparing the label hashing per request.
	series sync.Map // seriesKey → *series
}

type seriesKey struct{ opType, opName, code string }

type series struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// DurationBuckets are the bounds of batchql_graphql_request_duration_seconds:
// from 0.5 ms (a lookup by id answers in about 0.1 ms) to 30 s (the default
// request timeout).
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New returns the metrics in a registry of their own, with the Go runtime
// and process collectors and, when store is not nil, batchql_records and
// batchql_db_size_bytes read from store at each scrape.
func New(store Store) *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		names: map[string]bool{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "batchql_graphql_requests_total",
			Help: "GraphQL requests answered, by operation type (query, mutation, subscription; unknown when the request failed before its operation was known), operation name (the first 100 distinct names, then \"other\"; empty for anonymous operations) and code (OK, or the extensions.code of the first error).",
		}, []string{"operation_type", "operation_name", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "batchql_graphql_request_duration_seconds",
			Help:    "Time from receiving a GraphQL request to the end of its response, by operation type.",
			Buckets: DurationBuckets,
		}, []string{"operation_type"}),
		importRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "batchql_import_records_total",
			Help: "Records imported (import command, POST /import), by kind and outcome: new, updated, unchanged or rejected.",
		}, []string{"kind", "outcome"}),
		watched: newWatched(),
	}
	m.reg.MustRegister(m.requests, m.duration, m.importRecords, m.watched,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if store != nil {
		m.reg.MustRegister(newStoreCollector(store))
	}
	return m
}

// Registry is the registry the metrics are in (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// GraphQLRequest records one GraphQL request: its operation type
// (TypeUnknown when it failed before its operation was known), operation
// name ("" for an anonymous operation), code (CodeOK or the error code) and
// duration.
func (m *Metrics) GraphQLRequest(opType, opName, code string, d time.Duration) {
	if m == nil {
		return
	}
	if opType == "" {
		opType = TypeUnknown
	}
	if code == "" {
		code = CodeOK
	}
	k := seriesKey{opType, opName, code}
	v, ok := m.series.Load(k)
	if !ok {
		name := m.boundName(opName)
		s := &series{m.requests.WithLabelValues(opType, name, code), m.duration.WithLabelValues(opType)}
		if name != opName { // other: not cached, or the cache would grow with every new name
			s.count.Inc()
			s.duration.Observe(d.Seconds())
			return
		}
		v, _ = m.series.LoadOrStore(k, s)
	}
	s := v.(*series)
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// boundName returns name while fewer than MaxOperationNames names were
// seen or name is one of them, else OtherOperation.
func (m *Metrics) boundName(name string) string {
	if name == "" {
		return ""
	}
	m.mu.RLock()
	known, full := m.names[name], len(m.names) >= MaxOperationNames
	m.mu.RUnlock()
	switch {
	case known:
		return name
	case full:
		return OtherOperation
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.names[name] && len(m.names) >= MaxOperationNames {
		return OtherOperation
	}
	m.names[name] = true
	return name
}

// ImportRecords adds n records of a kind with an outcome (new, updated,
// unchanged, rejected) to batchql_import_records_total. Kind names such as
// "batch operation item" become batch_operation_item.
func (m *Metrics) ImportRecords(kind, outcome string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.importRecords.WithLabelValues(strings.ReplaceAll(kind, " ", "_"), outcome).Add(float64(n))
}
