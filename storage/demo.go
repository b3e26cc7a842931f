package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// The demo data set: a deterministic, realistic synthetic set of Camunda 7
// batches and Camunda 8 batch operations with their items that obeys the
// engines' invariants (see shared/domain). One seed always gives the same
// records in the same order.
//
// Order of records: all batches (by start time), then every operation
// followed by its items in item-key order. Numeric operation keys come
// first in key order, then the legacy (UUID) operations in key order, so a
// store receives its primary keys sequentially. An operation works through
// its items in key order: the processed ones come first, with processedDate
// rising along the keys (give or take a few items), then the ACTIVE or
// CANCELED rest; so the per-operation state and date indexes grow almost
// by appending, which keeps writing giant operations cheap.
//
// Sizes: the item total is Operations×ItemsPerOperation. The largest
// operation gets max(T/10, min(T/4, 2500)) items, large sets (≥1000 and
// ≥10000 operations) get one or two more giants of 90% and 80% of that; the
// rest is spread by a log-normal distribution (σ=1.6), so most operations
// have 1–100 items and a few thousands.

// DemoConfig sizes the demo data set.
type DemoConfig struct {
	Batches           int   // Camunda 7 batches
	Operations        int   // Camunda 8 batch operations
	ItemsPerOperation int   // mean items per operation; sizes are skewed
	Seed              int64 // same seed, same records
	// TxSize is the number of records per write transaction; 0 means 20000.
	TxSize int
	// Progress, when set, is called after every transaction with the
	// records written so far and the total.
	Progress func(done, total int64)
}

// DemoStats reports what Demo wrote.
type DemoStats struct {
	Batches, Operations, Items int64
	Elapsed                    time.Duration
}

// DefaultDemoConfig is the small set `serve --demo` writes in a few seconds:
// about 8000 items, one operation of at least 2000 of them.
func DefaultDemoConfig() DemoConfig {
	return DemoConfig{Batches: 300, Operations: 200, ItemsPerOperation: 40, Seed: 1}
}

const defaultDemoTxSize = 20000

// demoBaseTime is the fixed "now" of the demo data: every date lies in the
// 90 days before it.
var demoBaseTime = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

const (
	demoMsMinute = int64(60 * 1000)
	demoMsHour   = 60 * demoMsMinute
	demoMsDay    = 24 * demoMsHour
	// demoSpanDays is the width of the window of dates.
	demoSpanDays = 90
)

// Demo writes the demo data set through the upsert path, TxSize records per
// transaction. Records already stored with the same keys are replaced.
func (s *Store) Demo(ctx context.Context, cfg DemoConfig) (*DemoStats, error) {
	began := time.Now()
	g, err := newDemoGen(cfg)
	if err != nil {
		return nil, err
	}
	txSize := cfg.TxSize
	if txSize <= 0 {
		txSize = defaultDemoTxSize
	}
	total := g.totalRecords()
	var done int64
	for !g.finished {
		err := s.Update(ctx, func(w *Writer) error {
			for n := 0; n < txSize; n++ {
				rec := g.next()
				if rec == nil {
					return nil
				}
				var err error
				switch r := rec.(type) {
				case *BatchOperationItem:
					_, err = w.PutItem(r)
				case *BatchOperation:
					_, err = w.PutBatchOperation(r)
				case *Batch:
					_, err = w.PutBatch(r)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return g.stats(began), fmt.Errorf("demo: %w", err)
		}
		done = g.stats(began).records()
		if cfg.Progress != nil {
			cfg.Progress(done, total)
		}
	}
	return g.stats(began), nil
}

// GenerateDemo calls emit for every record of the demo data set, in the
// order Demo writes them, without touching a store. rec is a *Batch, a
// *BatchOperation or a *BatchOperationItem; it is only valid during the call
// (items are reused), so emit must copy what it keeps. An error from emit
// stops the generation and is returned.
func GenerateDemo(ctx context.Context, cfg DemoConfig, emit func(rec any) error) error {
	g, err := newDemoGen(cfg)
	if err != nil {
		return err
	}
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec := g.next()
		if rec == nil {
			return nil
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
}

// ---------------------------------------------------------------------------
// Deterministic randomness.

// Streams of the PCG source: one for the plan, one for the batches, and one
// per operation, so that the items of one operation do not depend on how
// many random numbers the others drew.
const (
	demoStreamPlan    = 0x706c616e
	demoStreamBatches = 0x62617463
	demoStreamOps     = 0x6f707300
)

func demoMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func demoRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(demoMix(uint64(seed)), demoMix(stream)))
}

// demoWeights picks an index with probability proportional to its weight.
type demoWeights []int

func (w demoWeights) pick(r *rand.Rand) int {
	total := 0
	for _, x := range w {
		total += x
	}
	n := r.IntN(total)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

func demoBetween(r *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.Int64N(hi-lo+1)
}

func demoClamp64(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

func demoTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func demoTimePtr(ms int64) *time.Time { t := demoTime(ms); return &t }

func demoStr(s string) *string { return &s }

func demoInt(v int) *int { return &v }

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

func (g *demoGen) batch(i int) *Batch {
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

	b := &Batch{
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
func (g *demoGen) runningBatch(r *rand.Rand, b *Batch, startMs, age int64, bps int) {
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
		b.Statistics = &BatchStatistics{
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
func (g *demoGen) completedBatch(r *rand.Rand, b *Batch, startMs int64, typ int) {
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

// ---------------------------------------------------------------------------
// Camunda 8 batch operations: the plan.

type demoOp struct {
	key     string
	typ     OperationType
	state   OperationState
	created int64 // ms
	size    int
	errMask uint8 // bit p-1: partition p reported an error
	legacy  bool
	giant   uint8 // demoGiant*
}

const (
	demoGiantLargest   = 1 // PARTIALLY_COMPLETED with many failures
	demoGiantActive    = 2 // ACTIVE, still running
	demoGiantCompleted = 3
)

const (
	demoKeyBase    = int64(1) << 51 // Zeebe keys: partition id in the upper bits
	demoSlotBase   = 256            // first process instance slot
	demoSigma      = 1.6            // log-normal σ of operation sizes
	demoLegacyPerc = 3
)

// Sub-slot classes of a Zeebe key: every slot of 16 keys holds one key of
// each class, so keys of different kinds never collide.
const (
	demoSubOp       = 1
	demoSubPI       = 2
	demoSubIncident = 5
	demoSubDecision = 8
	demoSubJob      = 11
	// Incidents and jobs are created later than their instance: their keys
	// lie that many slots further on (a constant, so keys keep the order of
	// the instances).
	demoIncidentLag = 1000
	demoJobLag      = 200
)

var (
	demoOpTypes = []OperationType{
		"CANCEL_PROCESS_INSTANCE", "MIGRATE_PROCESS_INSTANCE", "RESOLVE_INCIDENT",
		"DELETE_PROCESS_INSTANCE", "MODIFY_PROCESS_INSTANCE", "DELETE_DECISION_INSTANCE",
		"UPDATE_JOB", "SUSPEND_PROCESS_INSTANCE", "RESUME_PROCESS_INSTANCE",
		"DELETE_PROCESS_DEFINITION", "DELETE_DECISION_DEFINITION",
	}
	demoOpTypeWeights = demoWeights{24, 20, 20, 12, 8, 5, 3, 2, 2, 2, 1}
	// types added in 8.10: only after the upgrade
	demoOpTypes810         = 6
	demoLegacyTypes        = []OperationType{"ADD_VARIABLE", "UPDATE_VARIABLE", "CANCEL_PROCESS_INSTANCE", "RESOLVE_INCIDENT", "MIGRATE_PROCESS_INSTANCE", "MODIFY_PROCESS_INSTANCE", "DELETE_PROCESS_INSTANCE"}
	demoLegacyWeights      = demoWeights{15, 15, 25, 20, 10, 5, 10}
	demoStates             = []OperationState{"CREATED", "ACTIVE", "SUSPENDED", "COMPLETED", "PARTIALLY_COMPLETED", "CANCELED", "FAILED"}
	demoStateWeightsOld    = demoWeights{1, 4, 6, 124, 34, 16, 15}
	demoStateWeightsRecent = demoWeights{10, 35, 5, 35, 8, 4, 3}
)

type demoPlan struct {
	ops        []demoOp
	items      int64
	upgrade89  int64 // ms: operations before it have no actor and no root keys
	upgrade810 int64
	universe   int64 // process instance slots per partition
}

// planDemo decides every operation's key, type, state, date and size.
func planDemo(cfg DemoConfig, baseMs int64) *demoPlan {
	r := demoRand(cfg.Seed, demoStreamPlan)
	n := cfg.Operations
	target := int64(n) * int64(cfg.ItemsPerOperation)
	p := &demoPlan{
		ops:        make([]demoOp, n),
		upgrade89:  baseMs - 70*demoMsDay,
		upgrade810: baseMs - 20*demoMsDay,
		universe:   max(1024, target),
	}
	nLegacy := (n*demoLegacyPerc + 50) / 100
	m := n - nLegacy

	// Numeric keys in creation order: 8.8 came 80 days ago; the last 10%
	// of the operations are from the last two days.
	numStart, recentStart, numEnd := baseMs-80*demoMsDay, baseMs-2*demoMsDay, baseMs-10*demoMsMinute
	k := int64(0)
	for i := 0; i < m; i++ {
		o := &p.ops[i]
		o.key = strconv.FormatInt(demoKeyBase+16*k+demoSubOp, 10)
		k += 1 + r.Int64N(64)
		f := (float64(i) + r.Float64()) / float64(m)
		if f < 0.9 {
			o.created = numStart + int64(f/0.9*float64(recentStart-numStart))
		} else {
			o.created = recentStart + int64((f-0.9)/0.1*float64(numEnd-recentStart))
		}
		o.typ = demoOpTypes[demoOpTypeWeights.pick(r)]
		if idx := slices.Index(demoOpTypes, o.typ); idx >= demoOpTypes810 && o.created < p.upgrade810 {
			o.typ = "CANCEL_PROCESS_INSTANCE"
		}
		if f < 0.9 {
			o.state = demoStates[demoStateWeightsOld.pick(r)]
		} else {
			o.state = demoStates[demoStateWeightsRecent.pick(r)]
		}
		switch o.state {
		case "FAILED":
			o.errMask = []uint8{1, 2, 4, 3, 6, 7, 7}[r.IntN(7)]
		case "PARTIALLY_COMPLETED":
			if r.IntN(4) == 0 {
				o.errMask = 1 << r.IntN(3)
			}
		}
	}
	// Legacy operations of the old Operate: UUID keys, the oldest dates.
	for i := m; i < n; i++ {
		o := &p.ops[i]
		o.legacy = true
		var raw [16]byte
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		raw[6] = raw[6]&0x0f | 0x40
		raw[8] = raw[8]&0x3f | 0x80
		o.key = string(demoAppendUUID(nil, raw))
		o.created = baseMs - demoSpanDays*demoMsDay + r.Int64N(10*demoMsDay)
		o.typ = demoLegacyTypes[demoLegacyWeights.pick(r)]
		o.state = "COMPLETED"
		if r.IntN(10) == 0 {
			o.state = "ACTIVE"
		}
	}
	slices.SortFunc(p.ops[m:], func(a, b demoOp) int { return cmp.Compare(a.key, b.key) })

	// Giants, at distinct positions among the numeric operations.
	largest := max(target/10, min(target/4, 2500))
	type giant struct {
		kind     uint8
		size     int64
		from, to float64
		typ      OperationType
		state    OperationState
	}
	giants := []giant{{demoGiantLargest, largest, 0.3, 0.8, "MIGRATE_PROCESS_INSTANCE", "PARTIALLY_COMPLETED"}}
	if n >= 1000 {
		giants = append(giants, giant{demoGiantActive, largest * 9 / 10, 0.95, 0.995, "CANCEL_PROCESS_INSTANCE", "ACTIVE"})
	}
	if n >= 10000 {
		giants = append(giants, giant{demoGiantCompleted, largest * 8 / 10, 0.2, 0.6, "DELETE_PROCESS_INSTANCE", "COMPLETED"})
	}
	taken := map[int]bool{}
	var giantSum int64
	for _, gi := range giants {
		if len(taken) >= m {
			break
		}
		idx := min(m-1, int((gi.from+r.Float64()*(gi.to-gi.from))*float64(m)))
		for taken[idx] {
			idx = (idx + 1) % m
		}
		taken[idx] = true
		o := &p.ops[idx]
		o.giant, o.typ, o.state, o.errMask = gi.kind, gi.typ, gi.state, 0
		o.size = int(gi.size)
		giantSum += gi.size
	}

	// Everyone else: log-normal weights scaled to the remaining items.
	weights := make([]float64, n)
	var wsum float64
	for i := range p.ops {
		o := &p.ops[i]
		if o.giant != 0 || o.minSize() == 0 {
			continue
		}
		weights[i] = math.Exp(demoSigma * r.NormFloat64())
		wsum += weights[i]
	}
	rest := max(0, target-giantSum)
	var sum int64
	for i := range p.ops {
		o := &p.ops[i]
		if o.giant == 0 && wsum > 0 {
			o.size = int(math.Round(weights[i] * float64(rest) / wsum))
		}
		o.size = max(o.size, o.minSize())
		sum += int64(o.size)
	}
	// Rounding and minimum sizes leave a small difference: the largest
	// operation takes a surplus; a deficit is taken one item at a time from
	// the others first.
	diff := target - sum
	for diff < 0 {
		progressed := false
		for i := range p.ops {
			o := &p.ops[i]
			if o.giant == 0 && o.size > o.minSize() {
				o.size--
				diff++
				progressed = true
				if diff == 0 {
					break
				}
			}
		}
		if !progressed {
			break
		}
	}
	for i := range p.ops {
		if o := &p.ops[i]; o.giant == demoGiantLargest {
			o.size = max(o.size+int(diff), o.minSize())
			diff = 0
		}
	}
	for _, o := range p.ops {
		p.items += int64(o.size)
	}
	return p
}

// minSize is the fewest items an operation in its state can have.
func (o *demoOp) minSize() int {
	switch {
	case o.errMask == 7:
		return 0 // the query failed on every partition: no items
	case o.state == "PARTIALLY_COMPLETED":
		return 2 // some failed, some not
	}
	return 1
}

// ---------------------------------------------------------------------------
// The generator: a pull-based state machine, so Demo can spread records
// over transactions and GenerateDemo can push them to a callback.

type demoGen struct {
	cfg    DemoConfig
	baseMs int64
	salt   uint64
	plan   *demoPlan

	brng  *rand.Rand
	nodes []demoEngineNode
	ttls  []int64
	bi    int // next batch

	oi       int  // current operation
	inItems  bool // emitting the items of ops[oi]
	finished bool

	nb, no, ni int64 // emitted counts

	// items of the current operation
	op        *demoOp
	rng       *rand.Rand
	parts     [3]int   // items per partition
	partStart [3]int64 // first slot per partition
	pi        int      // current partition index
	ppos      int      // position within the partition
	slot      int64
	left      int    // items left
	processed int    // items processed (the first ones in key order)
	cnt       [5]int // items left per state, indexed like ItemStates
	gmax      int
	startMs   int64
	spanMs    int64
	cancelMs  int64
	roots     bool
	item      BatchOperationItem
	date      time.Time
	pik, root string
	msg       string
	buf       []byte
}

func newDemoGen(cfg DemoConfig) (*demoGen, error) {
	if cfg.Batches < 0 || cfg.Operations < 0 || cfg.ItemsPerOperation < 0 {
		return nil, errors.New("demo: batches, operations and items per operation must not be negative")
	}
	if int64(cfg.Operations)*int64(cfg.ItemsPerOperation) > 1<<40 {
		return nil, errors.New("demo: too many items")
	}
	baseMs := demoBaseTime.UnixMilli()
	g := &demoGen{
		cfg:    cfg,
		baseMs: baseMs,
		salt:   demoMix(uint64(cfg.Seed) ^ 0x6b657973),
		plan:   planDemo(cfg, baseMs),
		brng:   demoRand(cfg.Seed, demoStreamBatches),
		buf:    make([]byte, 0, 256),
	}
	for range 2 + g.brng.IntN(2) {
		g.nodes = append(g.nodes, demoEngineNode{
			clockSeq: uint16(g.brng.Uint32()),
			node:     0x0242ac130000 | uint64(2+g.brng.IntN(250)),
		})
	}
	g.ttls = make([]int64, len(demoBatchTypes))
	for i := range g.ttls {
		g.ttls[i] = demoTTLs[demoTTLWeights.pick(g.brng)]
	}
	return g, nil
}

func (g *demoGen) totalRecords() int64 {
	return int64(g.cfg.Batches) + int64(len(g.plan.ops)) + g.plan.items
}

func (g *demoGen) stats(began time.Time) *DemoStats {
	return &DemoStats{Batches: g.nb, Operations: g.no, Items: g.ni, Elapsed: time.Since(began)}
}

func (s *DemoStats) records() int64 { return s.Batches + s.Operations + s.Items }

// next returns the next record, or nil at the end.
func (g *demoGen) next() any {
	if g.bi < g.cfg.Batches {
		b := g.batch(g.bi)
		g.bi++
		g.nb++
		return b
	}
	for g.oi < len(g.plan.ops) {
		if !g.inItems {
			g.inItems = true
			g.no++
			return g.startOp(g.oi)
		}
		if g.left > 0 {
			g.ni++
			return g.nextItem()
		}
		g.inItems = false
		g.oi++
	}
	g.finished = true
	return nil
}

var (
	demoUserIDs     = []string{"demo", "ops-admin", "jane.doe", "john.smith", "mary.major"}
	demoClientIDs   = []string{"operate", "ops-automation", "ci-pipeline"}
	demoActorTypes  = []ActorType{"USER", "CLIENT", "ANONYMOUS", "UNKNOWN"}
	demoActorWeight = demoWeights{70, 20, 4, 6}
)

// startOp builds operation i and prepares the streaming of its items.
func (g *demoGen) startOp(i int) *BatchOperation {
	o := &g.plan.ops[i]
	r := demoRand(g.cfg.Seed, demoStreamOps+uint64(i)<<8)
	g.op, g.rng = o, r
	n := o.size
	op := &BatchOperation{
		BatchOperationKey:  o.key,
		BatchOperationType: o.typ,
		State:              o.state,
		Errors:             []BatchOperationError{},
	}
	if !o.legacy && o.created >= g.plan.upgrade89 {
		at := demoActorTypes[demoActorWeight.pick(r)]
		op.ActorType = &at
		switch at {
		case "USER":
			op.ActorID = demoStr(demoUserIDs[r.IntN(len(demoUserIDs))])
		case "CLIENT":
			op.ActorID = demoStr(demoClientIDs[r.IntN(len(demoClientIDs))])
		}
	}
	g.roots = !o.legacy && o.created >= g.plan.upgrade89

	// Item states: exact counts. Items are processed in key order, so the
	// processed ones come first (see nextItem).
	const (
		sActive = iota
		sCompleted
		sSkipped
		sCanceled
		sFailed
	)
	g.cnt = [5]int{}
	failRate := func() float64 {
		if r.IntN(10) < 6 {
			return 0
		}
		return 0.01 + 0.19*r.Float64()
	}
	skipRate := func() float64 {
		if r.IntN(10) < 7 {
			return 0
		}
		return 0.05 * r.Float64()
	}
	split := func(processed int, fail, skip float64) {
		f := min(int(float64(processed)*fail), processed)
		s := min(int(float64(processed)*skip), processed-f)
		g.cnt[sFailed] += f
		g.cnt[sSkipped] += s
		g.cnt[sCompleted] += processed - f - s
	}
	frac := 1.0
	switch {
	case o.legacy:
		if o.state == "COMPLETED" {
			g.cnt[sCompleted] = n
		} else {
			frac = 0.9 * r.Float64()
			done := min(int(float64(n)*frac), max(n-1, 0))
			g.cnt[sCompleted], g.cnt[sActive] = done, n-done
		}
	case o.state == "CREATED":
		g.cnt[sActive] = n
		frac = 0
	case o.state == "ACTIVE" || o.state == "SUSPENDED":
		frac = 0.05 + 0.9*r.Float64()
		fail := failRate()
		if o.giant == demoGiantActive {
			frac, fail = 0.6, 0.05
		}
		done := min(int(float64(n)*frac), max(n-1, 0))
		split(done, fail, skipRate())
		g.cnt[sActive] = n - done
	case o.state == "COMPLETED":
		split(n, 0, skipRate())
	case o.state == "PARTIALLY_COMPLETED":
		fail := 0.01 + 0.39*r.Float64()
		if o.giant == demoGiantLargest {
			fail = 0.12
		}
		f := demoClampInt(int(float64(n)*fail), 1, n-1)
		s := min(int(float64(n)*skipRate()), n-f-1)
		g.cnt[sFailed], g.cnt[sSkipped], g.cnt[sCompleted] = f, s, n-f-s
	case o.state == "FAILED":
		split(n, failRate(), skipRate())
	case o.state == "CANCELED":
		frac = 0.9 * r.Float64()
		done := min(int(float64(n)*frac), max(n-1, 0))
		split(done, failRate(), skipRate())
		g.cnt[sCanceled] = n - done
	}
	g.left = n
	g.processed = g.cnt[sCompleted] + g.cnt[sSkipped] + g.cnt[sFailed]
	op.OperationsTotalCount = n
	op.OperationsFailedCount = g.cnt[sFailed]
	op.OperationsCompletedCount = g.cnt[sCompleted]

	// Dates: a few ms per item, the partitions working in parallel.
	var parts []int
	for p := 0; p < 3; p++ {
		if o.errMask&(1<<p) == 0 {
			parts = append(parts, p)
		}
	}
	perItem := demoBetween(r, 3, 30)
	d := demoBetween(r, 800, 5000) + int64(n)*perItem/int64(max(1, len(parts)))
	start := o.created
	g.startMs, g.spanMs, g.cancelMs = start, 0, 0
	if o.state != "CREATED" {
		op.StartDate = demoTimePtr(start)
	}
	switch o.state {
	case "COMPLETED", "PARTIALLY_COMPLETED", "FAILED":
		end := demoClamp64(start+d, start, g.baseMs-1000)
		op.EndDate = demoTimePtr(end)
		g.spanMs = end - start
	case "ACTIVE", "SUSPENDED":
		g.spanMs = demoClamp64(int64(float64(d)*frac), 0, g.baseMs-start)
	case "CANCELED":
		end := demoClamp64(start+int64(float64(d)*frac)+demoBetween(r, 500, 30000), start, g.baseMs-1000)
		op.EndDate = demoTimePtr(end)
		g.spanMs, g.cancelMs = end-start, end
	}

	// Errors reported by partitions.
	for p := 0; p < 3; p++ {
		if o.errMask&(1<<p) == 0 {
			continue
		}
		e := BatchOperationError{PartitionID: p + 1, Type: "QUERY_FAILED"}
		if r.IntN(10) < 3 {
			e.Type = "RESULT_BUFFER_SIZE_EXCEEDED"
			e.Message = "Batch operation result buffer exceeded the maximum size of 4194304 bytes while collecting items; narrow the filter or raise camunda.batch-operation.query-result-buffer-size"
		} else {
			e.Message = demoQueryFailed[r.IntN(len(demoQueryFailed))] + demoQueryTarget(o.typ) + demoQueryCause[r.IntN(len(demoQueryCause))]
		}
		op.Errors = append(op.Errors, e)
	}

	// Items per partition and where in the key space they are. Keys grow
	// with time, so an operation only reaches instances that existed when
	// it was created; overlapping windows touch instances more than once.
	g.parts = [3]int{}
	switch {
	case len(parts) == 0 || n == 0:
	case len(parts) == 1 || n < 3 && r.IntN(2) == 0:
		g.parts[parts[r.IntN(len(parts))]] = n
	default:
		var w [3]float64
		var ws float64
		for _, p := range parts {
			w[p] = 0.5 + r.Float64()
			ws += w[p]
		}
		left := n
		for j, p := range parts {
			c := left
			if j < len(parts)-1 {
				c = min(left, int(math.Round(float64(n)*w[p]/ws)))
			}
			g.parts[p] = c
			left -= c
		}
	}
	g.gmax = []int{1, 2, 4, 8}[demoWeights{35, 30, 25, 10}.pick(r)]
	window := g.plan.universe - demoSlotBase
	f := max(0.2, float64(o.created-(g.baseMs-demoSpanDays*demoMsDay))/float64(demoSpanDays*demoMsDay))
	lim := int64(f * float64(window))
	for p := 0; p < 3; p++ {
		span := int64(g.parts[p]) * int64(g.gmax+1) / 2
		g.partStart[p] = demoSlotBase + r.Int64N(max(1, lim-span))
	}
	g.pi, g.ppos = 0, 0

	g.item = BatchOperationItem{BatchOperationKey: o.key, OperationType: o.typ}
	return op
}

func demoClampInt(v, lo, hi int) int { return max(lo, min(v, hi)) }

// demoProcessedStates are the states of processed items, as ItemStates
// indexes: COMPLETED, SKIPPED, FAILED.
var demoProcessedStates = [...]int{1, 2, 4}

// demoTailState is the state of the unprocessed items: ACTIVE, or CANCELED
// when the operation was canceled.
func demoTailState(cnt *[5]int) int {
	if cnt[3] > 0 {
		return 3
	}
	return 0
}

// demoKey is the Zeebe key of the given class at a slot of partition p.
func (g *demoGen) demoKey(p int, slot int64, sub int64) int64 {
	h := demoMix(g.salt ^ uint64(p)<<56 ^ uint64(slot)<<4 ^ uint64(sub))
	return int64(p)*demoKeyBase + slot*16 + sub + int64(h%3)
}

// isChild reports whether the process instance at a slot was started by a
// call activity; about 30% are.
func (g *demoGen) isChild(p int, slot int64) (uint64, bool) {
	if slot < demoSlotBase+16 {
		return 0, false
	}
	h := demoMix(g.salt ^ 0xc41d ^ uint64(p)<<56 ^ uint64(slot))
	return h, h%100 < 30
}

// rootSlot is the slot of the root instance of the instance at slot, which
// was created shortly before it and is no child itself.
func (g *demoGen) rootSlot(p int, slot int64) (int64, bool) {
	h, child := g.isChild(p, slot)
	if !child {
		return 0, false
	}
	rs := slot - 1 - int64(h>>8)%16
	for {
		if _, c := g.isChild(p, rs); !c {
			return rs, true
		}
		rs--
	}
}

func (g *demoGen) keyString(k int64) string {
	g.buf = strconv.AppendInt(g.buf[:0], k, 10)
	return string(g.buf)
}

func (g *demoGen) nextItem() *BatchOperationItem {
	r := g.rng
	for g.ppos >= g.parts[g.pi] {
		g.pi++
		g.ppos = 0
	}
	p := g.pi + 1
	if g.ppos == 0 {
		g.slot = g.partStart[g.pi]
	} else {
		g.slot += 1 + int64(r.IntN(g.gmax))
	}
	g.ppos++

	// The operation works through its items in key order: a prefix is
	// processed (states drawn without replacement from the remaining
	// counts), the rest is still ACTIVE or was CANCELED.
	j := g.op.size - g.left
	s := demoTailState(&g.cnt)
	if j < g.processed {
		x := r.IntN(g.processed - j)
		for _, s = range demoProcessedStates {
			if x < g.cnt[s] {
				break
			}
			x -= g.cnt[s]
		}
	}
	g.cnt[s]--
	g.left--

	it := &g.item
	it.State = ItemStates[s]
	it.ProcessInstanceKey, it.RootProcessInstanceKey = nil, nil
	it.ProcessedDate, it.ErrorMessage = nil, nil

	g.pik = g.keyString(g.demoKey(p, g.slot, demoSubPI))
	switch it.OperationType {
	case "RESOLVE_INCIDENT": // raised a while after the instance started
		it.ItemKey = g.keyString(g.demoKey(p, g.slot+demoIncidentLag, demoSubIncident))
		it.ProcessInstanceKey = &g.pik
	case "UPDATE_JOB":
		it.ItemKey = g.keyString(g.demoKey(p, g.slot+demoJobLag, demoSubJob))
		it.ProcessInstanceKey = &g.pik
	case "DELETE_DECISION_INSTANCE", "DELETE_DECISION_DEFINITION":
		it.ItemKey = g.keyString(g.demoKey(p, g.slot, demoSubDecision))
	default:
		it.ItemKey = g.pik
		it.ProcessInstanceKey = &g.pik
	}
	child := false
	if it.ProcessInstanceKey != nil {
		if rs, ok := g.rootSlot(p, g.slot); ok {
			child = true
			g.root = g.keyString(g.demoKey(p, rs, demoSubPI))
			if g.roots {
				it.RootProcessInstanceKey = &g.root
			}
		}
	}

	switch it.State {
	case "ACTIVE":
	case "CANCELED":
		g.date = demoTime(g.cancelMs)
		it.ProcessedDate = &g.date
	default:
		// in processing order, give or take a few items: the per-operation
		// date indexes get near-appends
		x := (float64(j) + 0.5 + 8*(r.Float64()-0.5)) / float64(g.processed)
		g.date = demoTime(g.startMs + int64(float64(g.spanMs)*max(0, min(x, 1))))
		it.ProcessedDate = &g.date
	}
	if it.State == "FAILED" {
		g.msg = g.failure(it, child)
		it.ErrorMessage = &g.msg
	}
	return it
}

var (
	demoQueryFailed = []string{"Failed to query ", "Failed to fetch "}
	demoQueryCause  = []string{
		": search request timed out after 30000ms",
		": secondary storage is unavailable (connection refused)",
		": index operate-list-view-8.3.0_ is not available (all shards failed)",
	}
	demoElements = []string{"Activity_0vqe8ld", "review_order", "ship_parcel", "charge_card", "Gateway_1k3x0o2"}
)

func demoQueryTarget(t OperationType) string {
	switch t {
	case "RESOLVE_INCIDENT":
		return "incidents"
	case "DELETE_DECISION_INSTANCE", "DELETE_DECISION_DEFINITION":
		return "decision instances"
	case "UPDATE_JOB":
		return "jobs"
	}
	return "process instances"
}

// failure is the engine's rejection text for a failed item.
func (g *demoGen) failure(it *BatchOperationItem, child bool) string {
	r := g.rng
	b := g.buf[:0]
	el := demoElements[r.IntN(len(demoElements))]
	denied := func(b []byte, op, res string) []byte {
		b = append(b, "Insufficient permissions to perform operation '"...)
		b = append(b, op...)
		b = append(b, "' on resource '"...)
		b = append(b, res...)
		return append(b, "', required resource identifiers are one of '[*, order-process]'"...)
	}
	x := r.IntN(10)
	switch it.OperationType {
	case "CANCEL_PROCESS_INSTANCE":
		if child {
			b = append(b, "Expected to cancel a process instance with key '"...)
			b = append(b, g.pik...)
			b = append(b, "', but it is created by a parent process instance. Cancel the root process instance '"...)
			b = append(b, g.root...)
			b = append(b, "' instead."...)
		} else {
			b = denied(b, "CANCEL_PROCESS_INSTANCE", "PROCESS_DEFINITION")
		}
	case "MIGRATE_PROCESS_INSTANCE":
		b = append(b, "Expected to migrate process instance '"...)
		b = append(b, g.pik...)
		switch {
		case x < 5:
			b = append(b, "' but active element with id '"...)
			b = append(b, el...)
			b = append(b, "' has an incident. Elements cannot be migrated with an incident yet. Please retry migration after resolving the incident."...)
		case x < 8:
			b = append(b, "' but no mapping instruction defined for active element with id '"...)
			b = append(b, el...)
			b = append(b, "'. Elements cannot be migrated without a mapping."...)
		default:
			b = append(b, "' but active element with id '"...)
			b = append(b, el...)
			b = append(b, "' and type 'SERVICE_TASK' is mapped to an element with id 'Task_2' and different type 'USER_TASK'. Elements must be mapped to elements of the same type."...)
		}
	case "MODIFY_PROCESS_INSTANCE":
		b = append(b, "Expected to modify instance of process 'order-process' but it contains one or more activate instructions with an element that could not be found: '"...)
		b = append(b, el...)
		b = append(b, '\'')
	case "RESOLVE_INCIDENT":
		if x < 6 {
			b = append(b, "Expected to resolve incident with key '"...)
			b = append(b, it.ItemKey...)
			b = append(b, "', but the job has no retries left. Update the job retries before resolving the incident."...)
		} else {
			b = denied(b, "UPDATE_PROCESS_INSTANCE", "PROCESS_DEFINITION")
		}
	case "DELETE_PROCESS_INSTANCE", "DELETE_PROCESS_DEFINITION":
		b = append(b, "Expected to delete history for process instance with key '"...)
		b = append(b, g.pik...)
		b = append(b, "', but it is still active. Cancel the process instance first."...)
	case "DELETE_DECISION_INSTANCE", "DELETE_DECISION_DEFINITION":
		b = append(b, "Expected to delete decision instance with key '"...)
		b = append(b, it.ItemKey...)
		b = append(b, "', but the deletion of its history failed: secondary storage request timed out"...)
	case "SUSPEND_PROCESS_INSTANCE":
		b = append(b, "Expected to suspend process instance with key '"...)
		b = append(b, g.pik...)
		b = append(b, "', but it is already suspended"...)
	case "RESUME_PROCESS_INSTANCE":
		b = append(b, "Expected to resume process instance with key '"...)
		b = append(b, g.pik...)
		b = append(b, "', but it is not suspended"...)
	case "UPDATE_JOB":
		b = append(b, "Expected to update job with key '"...)
		b = append(b, it.ItemKey...)
		b = append(b, "', but it is in state 'FAILED'"...)
	default:
		b = append(b, "Command rejected: process instance '"...)
		b = append(b, g.pik...)
		b = append(b, "' is in an invalid state"...)
	}
	g.buf = b
	return string(b)
}
