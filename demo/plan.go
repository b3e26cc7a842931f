package demo

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/batchql/batchql/storage"
)

// ---------------------------------------------------------------------------
// Camunda 8 batch operations: the plan.

type demoOp struct {
	key     string
	typ     storage.OperationType
	state   storage.OperationState
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
	demoOpTypes = []storage.OperationType{
		"CANCEL_PROCESS_INSTANCE", "MIGRATE_PROCESS_INSTANCE", "RESOLVE_INCIDENT",
		"DELETE_PROCESS_INSTANCE", "MODIFY_PROCESS_INSTANCE", "DELETE_DECISION_INSTANCE",
		"UPDATE_JOB", "SUSPEND_PROCESS_INSTANCE", "RESUME_PROCESS_INSTANCE",
		"DELETE_PROCESS_DEFINITION", "DELETE_DECISION_DEFINITION",
	}
	demoOpTypeWeights = demoWeights{24, 20, 20, 12, 8, 5, 3, 2, 2, 2, 1}
	// types added in 8.10: only after the upgrade
	demoOpTypes810         = 6
	demoLegacyTypes        = []storage.OperationType{"ADD_VARIABLE", "UPDATE_VARIABLE", "CANCEL_PROCESS_INSTANCE", "RESOLVE_INCIDENT", "MIGRATE_PROCESS_INSTANCE", "MODIFY_PROCESS_INSTANCE", "DELETE_PROCESS_INSTANCE"}
	demoLegacyWeights      = demoWeights{15, 15, 25, 20, 10, 5, 10}
	demoStates             = []storage.OperationState{"CREATED", "ACTIVE", "SUSPENDED", "COMPLETED", "PARTIALLY_COMPLETED", "CANCELED", "FAILED"}
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
func planDemo(cfg Config, baseMs int64) *demoPlan {
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
		typ      storage.OperationType
		state    storage.OperationState
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
