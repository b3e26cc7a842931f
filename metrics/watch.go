package metrics

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SyncStat is what the sync metrics read of one engine at a scrape.
type SyncStat struct {
	Engine      string     // the engine label: camunda7, camunda8
	LastSuccess *time.Time // the last poll that read all it meant to; nil before the first
	Errors      int        // failed requests and polls since the server started
	Quarantined int        // records waiting in quarantine
}

// transports are the transport labels of batchql_subscriptions_active that
// have a series even while no subscription uses them.
var transports = []string{"websocket", "sse"}

// WatchSync makes the sync metrics read status at each scrape:
// batchql_sync_last_success_timestamp_seconds (engines that succeeded
// once), batchql_sync_errors_total and batchql_sync_quarantined, by engine.
func (m *Metrics) WatchSync(status func() []SyncStat) {
	if m == nil {
		return
	}
	m.watched.mu.Lock()
	m.watched.sync = status
	m.watched.mu.Unlock()
}

// WatchSubscriptions makes batchql_subscriptions_active (open
// subscriptions by transport) and batchql_subscription_events_total
// (events sent so far) read status at each scrape. Unwatched, both are 0.
func (m *Metrics) WatchSubscriptions(status func() (active map[string]int, events uint64)) {
	if m == nil {
		return
	}
	m.watched.mu.Lock()
	m.watched.subs = status
	m.watched.mu.Unlock()
}

// WatchReplication makes batchql_replication_applied_sequence and
// batchql_replication_lag_seconds read status at each scrape. Unwatched,
// both are 0.
func (m *Metrics) WatchReplication(status func() (applied uint64, lag time.Duration)) {
	if m == nil {
		return
	}
	m.watched.mu.Lock()
	m.watched.repl = status
	m.watched.mu.Unlock()
}

// watched reports, at scrape time, the figures the syncer, the
// subscription hub and the replication node keep: values of the moment of
// the scrape, and no state of their own.
type watched struct {
	mu   sync.Mutex
	sync func() []SyncStat
	subs func() (map[string]int, uint64)
	repl func() (uint64, time.Duration)

	lastSuccess, syncErrors, quarantined *prometheus.Desc
	active, events, applied, lag         *prometheus.Desc
}

func newWatched() *watched {
	return &watched{
		lastSuccess: prometheus.NewDesc("batchql_sync_last_success_timestamp_seconds",
			"Unix time of the last poll of an engine that read all it meant to, by engine (camunda7, camunda8).", []string{"engine"}, nil),
		syncErrors: prometheus.NewDesc("batchql_sync_errors_total",
			"Failed polls of an engine, by engine (camunda7, camunda8).", []string{"engine"}, nil),
		quarantined: prometheus.NewDesc("batchql_sync_quarantined",
			"Records from an engine that the store could not take and that wait for the next full reconciliation, by engine.", []string{"engine"}, nil),
		active: prometheus.NewDesc("batchql_subscriptions_active",
			"Open GraphQL subscriptions, by transport (websocket, sse).", []string{"transport"}, nil),
		events: prometheus.NewDesc("batchql_subscription_events_total",
			"Events sent to subscribers.", nil, nil),
		applied: prometheus.NewDesc("batchql_replication_applied_sequence",
			"The last NATS JetStream sequence applied to this server's database.", nil, nil),
		lag: prometheus.NewDesc("batchql_replication_lag_seconds",
			"How far this server's database is behind the replication stream's tail, in seconds.", nil, nil),
	}
}

func (w *watched) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{w.lastSuccess, w.syncErrors, w.quarantined, w.active, w.events, w.applied, w.lag} {
		ch <- d
	}
}

func (w *watched) Collect(ch chan<- prometheus.Metric) {
	w.mu.Lock()
	syncs, subs, repl := w.sync, w.subs, w.repl
	w.mu.Unlock()
	if syncs != nil {
		for _, s := range syncs() {
			if s.LastSuccess != nil {
				ch <- prometheus.MustNewConstMetric(w.lastSuccess, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9, s.Engine)
			}
			ch <- prometheus.MustNewConstMetric(w.syncErrors, prometheus.CounterValue, float64(s.Errors), s.Engine)
			ch <- prometheus.MustNewConstMetric(w.quarantined, prometheus.GaugeValue, float64(s.Quarantined), s.Engine)
		}
	}
	var active map[string]int
	var events uint64
	if subs != nil {
		active, events = subs()
	}
	for _, t := range transports {
		ch <- prometheus.MustNewConstMetric(w.active, prometheus.GaugeValue, float64(active[t]), t)
	}
	for t, n := range active {
		if !slices.Contains(transports, t) {
			ch <- prometheus.MustNewConstMetric(w.active, prometheus.GaugeValue, float64(n), t)
		}
	}
	ch <- prometheus.MustNewConstMetric(w.events, prometheus.CounterValue, float64(events))
	var applied uint64
	var lag time.Duration
	if repl != nil {
		applied, lag = repl()
	}
	ch <- prometheus.MustNewConstMetric(w.applied, prometheus.GaugeValue, float64(applied))
	ch <- prometheus.MustNewConstMetric(w.lag, prometheus.GaugeValue, lag.Seconds())
}
