package demo

import (
	"strconv"

	"github.com/batchql/batchql/storage"
)

func demoClampInt(v, lo, hi int) int { return max(lo, min(v, hi)) }

// demoProcessedStates are the states of processed items, as storage.ItemStates
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

func (g *demoGen) nextItem() *storage.BatchOperationItem {
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
	it.State = storage.ItemStates[s]
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

func demoQueryTarget(t storage.OperationType) string {
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
func (g *demoGen) failure(it *storage.BatchOperationItem, child bool) string {
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
