package demo

import (
	"math"
	"math/rand/v2"

	"github.com/batchql/batchql/storage"
)

// ---------------------------------------------------------------------------
// Camunda 7 batches.

var demoBatchTypes = []string{
	"instance-migration", "instance-deletion", "set-job-retries",
	"historic-instance-deletion", "instance-modification", "process-set-removal-time",
	"set-external-task-retries", "instance-update-suspension-state", "instance-restart",
	"set-variables", "historic-decision-instance-deletion", "correlate-message",
	"decision-set-removal-time", "batch-set-removal-time",
	"custom-archive", "custom-tenant-export",
}

var demoBatchTypeWeights = demoWeights{40, 32, 28, 18, 14, 10, 10, 10, 8, 8, 6, 6, 4, 4, 3, 3}

// demoBuiltinBatchTypes are the 14 batch types the Camunda 7 engine ships.
var demoBuiltinBatchTypes = demoBatchTypes[:14]

var (
	demoTenants       = []*string{nil, demoStr("tenant-a"), demoStr("tenant-b"), demoStr("tenant-c")}
	demoTenantWeights = demoWeights{70, 14, 10, 6}
	demoUsers         = []*string{nil, demoStr("demo"), demoStr("ops-admin"), demoStr("jane.doe"), demoStr("john.smith")}
	demoUserWeights   = demoWeights{22, 35, 25, 10, 8}
	// TTLs of batchOperationsForHistoryCleanup; 0 = none configured.
	demoTTLs       = []int64{0, demoMsDay, 7 * demoMsDay, 30 * demoMsDay, 180 * demoMsDay}
	demoTTLWeights = demoWeights{2, 2, 6, 6, 3}
)

// demoUUIDEpoch is the number of 100 ns intervals between the Gregorian
// calendar reform (UUID version 1 epoch) and the Unix epoch.
const demoUUIDEpoch = 0x01B21DD213814000

const demoHex = "0123456789abcdef"

// demoAppendUUIDv1 formats a time-based UUID from ticks (100 ns since the Unix
// epoch), a clock sequence and a node.
func demoAppendUUIDv1(b []byte, ticks int64, clockSeq uint16, node uint64) []byte {
	ts := uint64(ticks) + demoUUIDEpoch
	var raw [16]byte
	tl, tm, th := uint32(ts), uint16(ts>>32), uint16(ts>>48)&0x0fff|0x1000
	raw[0], raw[1], raw[2], raw[3] = byte(tl>>24), byte(tl>>16), byte(tl>>8), byte(tl)
	raw[4], raw[5] = byte(tm>>8), byte(tm)
	raw[6], raw[7] = byte(th>>8), byte(th)
	cs := clockSeq&0x3fff | 0x8000
	raw[8], raw[9] = byte(cs>>8), byte(cs)
	for i := 0; i < 6; i++ {
		raw[10+i] = byte(node >> (40 - 8*i))
	}
	return demoAppendUUID(b, raw)
}

func demoAppendUUID(b []byte, raw [16]byte) []byte {
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, demoHex[c>>4], demoHex[c&15])
	}
	return b
}

// demoEngineNode is one Camunda 7 engine of the cluster that generates ids.
type demoEngineNode struct {
	clockSeq uint16
	node     uint64
}

func (g *demoGen) batch(i int) *storage.Batch {
	r := g.brng
	winStart := g.baseMs - demoSpanDays*demoMsDay
	width := max(int64(1), (g.baseMs-winStart-10*demoMsMinute)/int64(g.cfg.Batches))
	startMs := winStart + int64(i)*width + r.Int64N(width)
	age := g.baseMs - startMs

	typ := demoBatchTypeWeights.pick(r)
	items := 1
	if !(typ == 4 && r.IntN(10) < 4) { // async modification of one instance: 1 job
		items = int(demoClamp64(int64(math.Round(30*math.Exp(1.6*r.NormFloat64()))), 1, 250000))
	}
	inv := 1
	if r.IntN(100) < 12 {
		inv = []int{5, 10, 50, 100}[r.IntN(4)]
	}
	bps := 100
	if r.IntN(100) < 10 {
		bps = []int{10, 50, 500, 1000}[r.IntN(4)]
	}
	total := (items + inv - 1) / inv

	// Ids: time-based UUIDs from one engine node; the three job
	// definitions are created a few milliseconds after the batch.
	node := g.nodes[r.IntN(len(g.nodes))]
	ticks := startMs*10000 + r.Int64N(5000)
	var ids [4]string
	for k := range ids {
		g.buf = demoAppendUUIDv1(g.buf[:0], ticks, node.clockSeq, node.node)
		ids[k] = string(g.buf)
		ticks += 2000 + r.Int64N(40000)
	}

	b := &storage.Batch{
		BatchID:                ids[0],
		Type:                   demoBatchTypes[typ],
		TotalJobs:              total,
		BatchJobsPerSeed:       demoInt(bps),
		InvocationsPerBatchJob: demoInt(inv),
		SeedJobDefinitionID:    &ids[1],
		MonitorJobDefinitionID: &ids[2],
		BatchJobDefinitionID:   &ids[3],
		TenantID:               demoTenants[demoTenantWeights.pick(r)],
		CreateUserID:           demoUsers[demoUserWeights.pick(r)],
		StartTime:              demoTimePtr(startMs),
	}

	runProb := 15
	switch {
	case age < demoMsDay:
		runProb = 90
	case age < 7*demoMsDay:
		runProb = 50
	}
	if r.IntN(100) < runProb {
		g.runningBatch(r, b, startMs, age, bps)
	} else {
		g.completedBatch(r, b, startMs, typ)
	}
	return b
}

// runningBatch fills the runtime side: jobsCreated, suspended, statistics.
func (g *demoGen) runningBatch(r *rand.Rand, b *storage.Batch, startMs, age int64, bps int) {
	total := b.TotalJobs
	var created, existing, failed int
	started := true
	failures := func(existing int) int {
		if existing == 0 || r.IntN(100) >= 35 {
			return 0
		}
		return 1 + r.IntN(min(existing, 10))
	}
	seedRuns := (total + bps - 1) / bps
	switch x := r.IntN(100); {
	case x < 10 || age < 10*demoMsMinute && x < 40: // no execution job ran yet
		started = false
		created = min(total, bps*r.IntN(2))
		existing = created
	case seedRuns > 1 && x < 45: // the seed job is still creating jobs
		created = bps * (1 + r.IntN(seedRuns-1))
		existing = r.IntN(created + 1)
		failed = failures(existing)
	default: // every job created, draining
		created = total
		existing = r.IntN(total + 1)
		failed = failures(existing)
	}
	suspendProb := 8
	if age > demoMsDay {
		suspendProb = 40
	}
	b.Suspended = r.IntN(100) < suspendProb
	if age > demoMsDay && !b.Suspended && started {
		// An old batch that still runs is blocked by failed jobs.
		created = total
		failed = 1 + r.IntN(min(total, 25))
		existing = failed
	}
	b.JobsCreated = demoInt(created)
	if r.IntN(100) < 90 {
		remaining := existing + total - created
		b.Statistics = &storage.BatchStatistics{
			RemainingJobs: remaining,
			CompletedJobs: total - remaining,
			FailedJobs:    failed,
		}
	}
	if started {
		b.ExecutionStartTime = demoTimePtr(min(startMs+demoBetween(r, 20, 3000), g.baseMs))
	}
	if r.IntN(100) < 6 { // created by an engine before 7.18
		b.StartTime = nil
		b.ExecutionStartTime = nil
	}
}

// completedBatch fills the historic side: endTime and removalTime.
func (g *demoGen) completedBatch(r *rand.Rand, b *storage.Batch, startMs int64, typ int) {
	from := startMs
	switch x := r.IntN(100); {
	case x < 8: // engine before 7.18: no executionStartTime
	case x < 11: // deleted before any job ran
		from += demoBetween(r, 1000, 600000)
	default:
		from += demoBetween(r, 20, 3000)
		b.ExecutionStartTime = demoTimePtr(from)
	}
	d := demoBetween(r, 500, 2000) + int64(b.TotalJobs)*demoBetween(r, 10, 200)/demoBetween(r, 1, 4) + r.Int64N(30000)
	end := demoClamp64(from+d, from, g.baseMs-1000)
	b.EndTime = demoTimePtr(end)
	if ttl := g.ttls[typ]; ttl > 0 && r.IntN(100) < 90 {
		b.RemovalTime = demoTimePtr(end + ttl)
	}
}
