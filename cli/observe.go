package cli

import (
	"errors"
	"strings"

	"github.com/batchql/batchql/changes"
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

// syncStats is what the sync metrics read of sy at each scrape: the
// status it keeps, labelled by the engine in lower case.
func syncStats(sy *syncer.Syncer) func() []metrics.SyncStat {
	return func() []metrics.SyncStat {
		sts := sy.Status()
		out := make([]metrics.SyncStat, len(sts))
		for i, st := range sts {
			out[i] = metrics.SyncStat{Engine: strings.ToLower(string(st.Engine)), LastSuccess: st.LastSuccessAt,
				Errors: st.Errors, Quarantined: len(st.Quarantined)}
		}
		return out
	}
}

// subscriptionStats is what the subscription metrics read of hub at each
// scrape. The hub counts by graph's transport names; the metric's label
// is the contract's (§12): websocket for graph's "ws".
func subscriptionStats(hub *changes.Hub) func() (map[string]int, uint64) {
	return func() (map[string]int, uint64) {
		active := hub.Active()
		if n, ok := active["ws"]; ok {
			delete(active, "ws")
			active["websocket"] += n
		}
		return active, hub.Events()
	}
}
