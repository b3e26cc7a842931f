package demo

import (
	"math"

	"github.com/batchql/batchql/storage"
)

var (
	demoUserIDs     = []string{"demo", "ops-admin", "jane.doe", "john.smith", "mary.major"}
	demoClientIDs   = []string{"operate", "ops-automation", "ci-pipeline"}
	demoActorTypes  = []storage.ActorType{"USER", "CLIENT", "ANONYMOUS", "UNKNOWN"}
	demoActorWeight = demoWeights{70, 20, 4, 6}
)

// startOp builds operation i and prepares the streaming of its items.
func (g *demoGen) startOp(i int) *storage.BatchOperation {
	o := &g.plan.ops[i]
	r := demoRand(g.cfg.Seed, demoStreamOps+uint64(i)<<8)
	g.op, g.rng = o, r
	n := o.size
	op := &storage.BatchOperation{
		BatchOperationKey:  o.key,
		BatchOperationType: o.typ,
		State:              o.state,
		Errors:             []storage.BatchOperationError{},
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
		e := storage.BatchOperationError{PartitionID: p + 1, Type: "QUERY_FAILED"}
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

	g.item = storage.BatchOperationItem{BatchOperationKey: o.key, OperationType: o.typ}
	return op
}
