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
	if n, ok := countFromCounters(r, k, terms); ok {
		return n, nil
	}
	var best *plan[R]
	bestCost := 0.0
	for _, ix := range k.indexes {
		p := buildPlan(r, k, ix, terms, conds, nil)
		p.est = estimate(r, k, p)
		cost := p.est
		if len(p.residual) > 0 {
			cost *= 4 // decoding and checking each record
		}
		if best == nil || cost < bestCost {
			best, bestCost = p, cost
		}
	}
	n := 0
	if len(best.residual) == 0 {
		err := walkKeys(ctx, tx, best.ix, best.spans(), func() { n++ })
		return n, err
	}
	err := matching(ctx, tx, k, best, best.spans(), true, 0, func([]byte, *R) bool { n++; return true })
	return n, err
}

// countFromCounters answers filters made only of exact equalities whose
// fields form a counter set.
func countFromCounters[R any](r *Reader, k *kind[R], terms []term[R]) (int, bool) {
	var fields []string
	vals := map[string][][]byte{}
	for _, t := range terms {
		if t.field == "" || t.cond == nil || !t.cond.exact || t.cond.eq == nil {
			return 0, false
		}
		fields = append(fields, t.field)
		vals[t.field] = t.cond.eq
	}
	for _, set := range k.counterSets {
		if len(set) != len(fields) {
			continue
		}
		prefixes := [][]byte{nil}
		ok := true
		for _, f := range set {
			vs, has := vals[f]
			if !has {
				ok = false
				break
			}
			prefixes = crossPrefixes(prefixes, vs)
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
		if slices.Equal(set, fields) {
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
		total += r.counter(counterName(k.tag, set, [][]byte{pre}))
	}
	return total
}
