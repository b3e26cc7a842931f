package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchql/batchql/storage"
)

// Record kinds of batchql_records, by the storage counter that holds their
// total.
var recordKinds = []struct{ kind, counter string }{
	{"batch", "b"},
	{"batch_operation", "o"},
	{"batch_operation_item", "i"},
}

// StoreStats adapts a *storage.Store to Store: the record totals are the
// counters storage keeps in each write transaction, read in one read
// transaction (no scan).
func StoreStats(s *storage.Store) Store { return storeStats{s} }

type storeStats struct{ s *storage.Store }

func (st storeStats) Records(ctx context.Context) (map[string]int64, error) {
	var counts map[string]int64
	err := st.s.View(ctx, func(r *storage.Reader) error { counts = r.Counters(); return nil })
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(recordKinds))
	for _, k := range recordKinds {
		out[k.kind] = counts[k.counter]
	}
	return out, nil
}

func (st storeStats) Size() (int64, error) { return st.s.Size() }

// storeCollector reads batchql_records and batchql_db_size_bytes from the
// store at scrape time.
type storeCollector struct {
	store          Store
	records, size  *prometheus.Desc
	scrapeDeadline time.Duration
}

func newStoreCollector(s Store) *storeCollector {
	return &storeCollector{
		store:          s,
		records:        prometheus.NewDesc("batchql_records", "Records in the database, by kind (batch, batch_operation, batch_operation_item).", []string{"kind"}, nil),
		size:           prometheus.NewDesc("batchql_db_size_bytes", "Size of the bbolt database file in bytes.", nil, nil),
		scrapeDeadline: 5 * time.Second,
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.records
	ch <- c.size
}

// Collect reports what it could read; a failed read is reported to the
// scraper as an invalid metric (promhttp answers 500 and names it).
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.scrapeDeadline)
	defer cancel()
	if counts, err := c.store.Records(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.records, err)
	} else {
		for _, k := range recordKinds {
			ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, float64(counts[k.kind]), k.kind)
		}
	}
	if n, err := c.store.Size(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.size, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(n))
	}
}
