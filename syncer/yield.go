package syncer

import (
	"runtime"

	"github.com/batchql/batchql/importer"
)

// The sync gives way to the queries. It runs beside the server on the same
// cores, and storing a page's changed items is one write transaction of up
// to 1,000 upserts, ~8 ms of CPU at once (decoding the page ~1 ms; CPU
// profile of TestLoadWhileSyncing's with-sync phases at 1,000,000 items).
// A query made runnable on the sync's processor meanwhile waits until the
// scheduler preempts the sync (every 10 ms) or another processor steals
// it: the sync showed in the queries' p99 more than its share of the CPU
// (3–4%) explains. Every yieldEvery records the sync calls
// runtime.Gosched: the goroutines queued on its processor run first, then
// the sync resumes. Measured (README, "Serving while syncing"): the median
// p99 ratio with / without sync fell from 1.36–1.73 to 1.17–1.41.
const yieldEvery = 64

// Yielder counts records and yields every 64 of them (runtime.Gosched):
// a writer that runs beside the server (the sync, a replica applying the
// stream) calls Tick once a record. The zero value is ready.
type Yielder uint

// Tick counts one record.
func (y *Yielder) Tick() {
	*y++
	if *y%yieldEvery == 0 {
		runtime.Gosched()
	}
}

// yielding is keep, for importer.DecodeResponse, with a yield every
// yieldEvery records (keep nil keeps every record).
func yielding(keep func(*importer.Patch, []byte) bool) func(*importer.Patch, []byte) bool {
	var y Yielder
	return func(p *importer.Patch, raw []byte) bool {
		y.Tick()
		return keep == nil || keep(p, raw)
	}
}
