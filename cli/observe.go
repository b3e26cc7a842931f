package cli

import (
	"errors"
	"strings"
	"sync"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/metrics"
	"github.com/batchql/batchql/syncer"
)

// importMetrics counts POST /import's records by kind and outcome
// (batchql_import_records_total). A rejected body counts one record,
// of kind "unknown": the importer rejects the whole body at its first bad
// record, whose kind it may not know.
func importMetrics(m *metrics.Metrics) func(*importer.Stats, error) {
	if m == nil {
		return nil
	}
	return func(st *importer.Stats, err error) {
		var ie *importer.Error
		if errors.As(err, &ie) {
			m.ImportRecords("unknown", "rejected", 1)
		}
		if st == nil {
			return
		}
		for kind, c := range st.Kinds {
			m.ImportRecords(kind, "new", int(c.New))
			m.ImportRecords(kind, "updated", int(c.Updated))
			m.ImportRecords(kind, "unchanged", int(c.Unchanged))
		}
	}
}

// syncMetrics returns the syncer's Observe: after each poll of a source it
// records the time of its last success, its errors since the poll before
// (batchql_sync_errors_total counts up from the status's total) and its
// quarantine. m gives the metrics (nil: none), which exist only once the
// store is open.
func syncMetrics(m func() *metrics.Metrics) func(syncer.Status) {
	var mu sync.Mutex
	seen := map[syncer.Engine]int{}
	return func(st syncer.Status) {
		met := m()
		if met == nil {
			return
		}
		engine := strings.ToLower(string(st.Engine))
		if st.LastSuccessAt != nil {
			met.SyncSucceeded(engine, *st.LastSuccessAt)
		}
		mu.Lock()
		met.SyncFailed(engine, st.Errors-seen[st.Engine])
		seen[st.Engine] = st.Errors
		mu.Unlock()
		met.SyncQuarantined(engine, len(st.Quarantined))
	}
}
