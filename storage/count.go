package storage

// Counting: totalCount, from the counters when the filter is equalities on
// a counted field set, else by walking the cheapest plan's ranges (keys only
// when the ranges decide the filter).

import (
	"context"
	"slices"
)

// countMatches counts every record matching terms: from counters when the
// filter is equalities on a counted field set, else by walking the best
// index's ranges, reading only keys when the ranges decide the filter.
// conds are the terms' merged conds (condsOf), which match something
// (matchesNothing is false).
func countMatches[R any](ctx context.Context, r *Reader, k *kind[R], terms []term[R], conds map[string]*cond) (int, error) {
	tx := r.tx
	if n, ok := countFromCounters(r, k, terms, conds); ok {
		return n, nil
	}
	best := countPlan(r, k, terms, conds)
	n := 0
	if len(best.residual) == 0 {
		err := walkKeys(ctx, tx, best.ix, best.spans(), func() { n++ })
		return n, err
	}
	err := matching(ctx, tx, k, best, best.spans(), true, 0, func([]byte, *R) bool { n++; return true })
	return n, err
}

// countPlan picks the plan a count walks: the first that decides the
// filter in the fewest ranges, else the cheapest by estimate (a plan with residual
// checks decodes every record of its ranges).
func countPlan[R any](r *Reader, k *kind[R], terms []term[R], conds map[string]*cond) *plan[R] {
	var best *plan[R]
	bestCost := 0.0
	for _, ix := range k.indexes {
		if !r.has(ix) {
			continue
		}
		p := buildPlan(r, k, ix, terms, conds, nil)
		if p.decidesInFewestRanges() {
			// It walks exactly the matching keys, in as few ranges as a
			// plan that decides the filter can (see choosePlan): the rest
			// need not be built (nor allocate).
			return p
		}
		p.est = estimate(r, k, p)
		cost := p.est
		if len(p.residual) > 0 {
			cost *= 4 // decoding and checking each record
		}
		if best == nil || cost < bestCost {
			best, bestCost = p, cost
		}
	}
	return best
}

// countFromCounters answers filters made only of exact equalities whose
// fields form a counter set. Equalities on one field (a tenantId filter and
// the tenant scope) count as their merged cond (conds, condsOf): the
// tenant scope alone is the TENANT_ID set, the scope and a type equality
// the (TENANT_ID, TYPE) set.
func countFromCounters[R any](r *Reader, k *kind[R], terms []term[R], conds map[string]*cond) (int, bool) {
	for _, t := range terms {
		if t.field == "" || t.cond == nil || !t.cond.exact || t.cond.eq == nil {
			return 0, false
		}
	}
	for _, set := range k.counterSets {
		if len(set) != len(conds) || !r.counted(k.tag, set) {
			continue
		}
		prefixes := [][]byte{nil}
		ok := true
		for _, f := range set {
			c := conds[f]
			if c == nil || c.eq == nil || !c.exact {
				ok = false
				break
			}
			prefixes = crossPrefixes(prefixes, c.eq)
		}
		if ok {
			return sumCounters(r, k, set, prefixes), true
		}
	}
	return 0, false
}

// counterSum sums the counters of set for each prefix (concatenated encoded
// values of the set's fields in index order); ok is false when no counter
// set equals fields.
func counterSum[R any](r *Reader, k *kind[R], fields []string, prefixes [][]byte) (int, bool) {
	for _, set := range k.counterSets {
		if slices.Equal(set, fields) && r.counted(k.tag, set) {
			return sumCounters(r, k, set, prefixes), true
		}
	}
	return 0, false
}

// sumCounters sums the counters of set, one of k.counterSets, for each
// prefix.
func sumCounters[R any](r *Reader, k *kind[R], set []string, prefixes [][]byte) int {
	total := 0
	for _, pre := range prefixes {
		if len(set) == 0 {
			total += r.totalOf(k.tag)
		} else {
			total += r.counterSet(k.tag, set, pre)
		}
	}
	return total
}
