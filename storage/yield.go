package storage

import "runtime"

// Writers give way to readers. A write transaction runs beside the server
// on the same cores (the sync, a replica applying the stream, an import
// pushed while serving), and one of up to 1,000 upserts is ~8 ms of CPU at
// once (CPU profile of web's TestLoadWhileSyncing with-sync phases at
// 1,000,000 items; decoding the engine's page ~1 ms more). A query made
// runnable on the writer's processor meanwhile waited until the scheduler
// preempted the writer (every 10 ms) or another processor stole it: the
// sync showed in the queries' p99 more than its share of the CPU (3–4%)
// explained. So every giveWayEvery upserts a Writer calls runtime.Gosched:
// the goroutines queued on its processor run first, then the writer
// resumes; when none waits it costs a few hundred nanoseconds. Measured
// (README, "Serving while syncing"): the median p99 ratio with / without
// sync fell from 1.36–1.73 to 1.17–1.41.
const giveWayEvery = 64

// GiveWay yields the processor when n, a count of records handled so far,
// is a multiple of 64. Work on many records that runs beside the queries
// calls it once a record, as Writer's upserts do (importer.DecodeResponse
// decoding an engine page for the sync).
func GiveWay(n int) {
	if n%giveWayEvery == 0 {
		runtime.Gosched()
	}
}
