package storage

// The planner: the one place a filter's terms become key ranges. For each
// index of the kind, buildPlan fixes the leading fields that the filter's
// equalities (or an unfiltered enum's values) pin, takes a range on the next
// field, and keeps the other terms as residual checks; estimate guesses the
// keys the ranges hold (counters where they cover the prefix); choosePlan
// weighs the plans against the page size and the order asked for
// (servesOrder). spans, seekKey and bounded turn the chosen plan and the
// page's cursors into the [lo, hi) key ranges the scanner walks.

import (
	"slices"
)

const (
	// maxPrefixCombos bounds the index ranges one plan merges (the product
	// of the value counts of `in` filters on index prefix fields).
	maxPrefixCombos = 64
)

// plan is one way to answer a query: ranges of one index (one per
// combination of prefix values, merged when ordered), an optional range on
// the next index field, and the filter terms still to check per record.
type plan[R any] struct {
	ix       *index
	prefixes [][]byte
	fixed    []string // prefix fields, in index order
	single   bool     // every prefix field has exactly one value
	expanded bool     // a prefix field is an unfiltered enum's values
	lo, hi   []byte   // bounds on the component after the prefix
	ordered  bool     // the scan yields the requested order
	whole    bool     // ranges merge by whole keys, not by the part after the prefix
	desc     bool     // scan the index backward
	residual []func(*R) bool
	est      float64
	// Room for the usual plan, so that weighing every index allocates
	// little: a tenant-scoped list weighs them all, twice with its count.
	onePrefix [1][]byte
	fixedRoom [4]string
	residRoom [4]func(*R) bool
}

// condsOf collects the conditions of the terms by field, merging those of
// one field (a tenantId filter and the tenant scope). It fills the caller's
// map m (a literal the caller declares stays on its
// stack: one allocation fewer for every query) and returns it. runQuery
// builds it once a query, for the count and the plan.
func condsOf[R any](m map[string]*cond, terms []term[R]) map[string]*cond {
	for _, t := range terms {
		if t.cond != nil && t.field != "" {
			if c := m[t.field]; c != nil {
				m[t.field] = mergeCond(c, t.cond) // e.g. tenantId and the tenant scope
			} else {
				m[t.field] = t.cond
			}
		}
	}
	return m
}

// buildPlan fits index ix to the filter and the order.
func buildPlan[R any](r *Reader, k *kind[R], ix *index, terms []term[R], conds map[string]*cond, order []Order) *plan[R] {
	p := &plan[R]{ix: ix, single: true}
	p.prefixes, p.fixed, p.residual = p.onePrefix[:], p.fixedRoom[:0], p.residRoom[:0]
	used := map[string]bool{}
	for i, f := range ix.fields {
		c := conds[f]
		vals, expand := [][]byte(nil), false
		switch {
		case c != nil && c.eq != nil:
			vals = c.eq
		case c == nil && k.domains[f] != nil && i < len(ix.fields)-1:
			// An unfiltered enum field in front of others: a range per
			// value, merged, so (op, state, date) also answers "op by
			// date" and needs no index of its own.
			vals, expand = k.domains[f], true
		}
		if vals == nil || len(p.prefixes)*len(vals) > maxPrefixCombos {
			break
		}
		p.prefixes = crossPrefixes(p.prefixes, vals)
		p.fixed = append(p.fixed, f)
		p.single = p.single && len(vals) == 1
		if expand {
			p.expanded = true
		} else {
			used[f] = c.exact
		}
	}
	rest := ix.fields[len(p.fixed):]
	if len(rest) > 0 {
		if c := conds[rest[0]]; c != nil && c.hasRange {
			p.lo, p.hi = c.lo, c.hi
			used[rest[0]] = c.exact
		}
	}
	for _, t := range terms {
		// A term without a cond (a like beside the tenant scope's cond on
		// the same field) is never decided by the ranges.
		if t.field == "" || t.cond == nil || !used[t.field] {
			p.residual = append(p.residual, t.pred)
		}
	}
	p.ordered, p.desc = servesOrder(k, ix, p, conds, order)
	return p
}

// decidesInFewestRanges reports a plan whose ranges decide the whole
// filter (no check per record) in as few ranges as any such plan: one, or
// only those of filtered values (no enum expanded to all of its values).
// countMatches and choosePlan take such a plan without weighing the rest.
func (p *plan[R]) decidesInFewestRanges() bool {
	return len(p.residual) == 0 && (len(p.prefixes) == 1 || !p.expanded)
}

// crossPrefixes extends every prefix by every value (a range per
// combination of filtered values).
func crossPrefixes(prefixes, vals [][]byte) [][]byte {
	next := make([][]byte, 0, len(prefixes)*len(vals))
	for _, pre := range prefixes {
		for _, v := range vals {
			if len(pre) == 0 {
				// The value itself, clipped: appending to a prefix copies it.
				next = append(next, slices.Clip(v))
				continue
			}
			next = append(next, append(slices.Clip(pre), v...))
		}
	}
	return next
}

// servesOrder reports whether scanning ix after the plan's prefix yields
// the requested order, and in which direction. Order entries on fields fixed
// to one value are no-ops; the rest must be the index's next fields (then,
// on a secondary index, the natural key's fields, which end its keys), all
// in one direction, which must also be the direction of the key tie-break.
// When the order starts with the fields fixed to several values, in index
// order, the plan's ranges are merged by their whole keys (p.whole): a
// tenant-scoped list ordered by TENANT_ID reads one range per tenant, in
// tenant order.
func servesOrder[R any](k *kind[R], ix *index, p *plan[R], conds map[string]*cond, order []Order) (ok, desc bool) {
	desc = len(order) > 0 && order[len(order)-1].Desc
	single := func(f string) bool {
		c := conds[f]
		return c != nil && len(c.eq) == 1 && slices.Contains(p.fixed, f)
	}
	var need []string
	for _, o := range order {
		if single(o.Field) {
			continue
		}
		if o.Desc != desc {
			return false, false
		}
		need = append(need, o.Field)
	}
	rest := ix.fields[len(p.fixed):]
	if ix.primary {
		if len(need) > len(rest) || !slices.Equal(need, rest[:len(need)]) {
			return false, false
		}
		// The scan order after the prefix is the rest of the primary key,
		// which is the tie-break only if the prefix is one value.
		return p.single, desc
	}
	if followsKeys(k, need, rest) {
		return true, desc
	}
	var whole []string
	for _, f := range p.fixed {
		if !single(f) {
			whole = append(whole, f)
		}
	}
	if len(whole) > 0 && followsKeys(k, need, append(whole, rest...)) {
		p.whole = true
		return true, desc
	}
	return false, false
}

// followsKeys reports whether keys ordered by fields and then the natural
// key are in the order need: need is fields, then optionally leading fields
// of the natural key.
func followsKeys[R any](k *kind[R], need, fields []string) bool {
	if len(need) < len(fields) || !slices.Equal(need[:len(fields)], fields) {
		return false
	}
	tail := need[len(fields):]
	return len(tail) <= len(k.pkFields) && slices.Equal(tail, k.pkFields[:len(tail)])
}

// estimate guesses how many keys the plan's ranges hold, exactly where a
// counter covers the prefix fields.
func estimate[R any](r *Reader, k *kind[R], p *plan[R]) float64 {
	n := float64(r.totalOf(k.tag))
	if len(p.fixed) > 0 {
		if exact, ok := counterSum(r, k, p.fixed, p.prefixes); ok {
			n = float64(exact)
		} else {
			for _, f := range p.fixed {
				switch {
				case k.domains[f] != nil:
					// one enum value's share; an expanded field's
					// values multiply it back below
					n /= float64(len(k.domains[f]))
				case k.selective[f]:
					n /= 1000
				default:
					n /= 8
				}
			}
			n *= float64(len(p.prefixes))
		}
	}
	if p.lo != nil || p.hi != nil {
		n /= 3
	}
	return max(n, 1)
}

// choosePlan picks the cheapest plan for terms, whose merged conds
// (condsOf) are conds.
func choosePlan[R any](r *Reader, k *kind[R], terms []term[R], conds map[string]*cond, order []Order, limit int) *plan[R] {
	plans := make([]*plan[R], 0, len(k.indexes))
	// matches estimates how many records pass the whole filter: the
	// smallest range that needs no further checks, else a tenth of the
	// smallest range.
	matches := -1.0
	for _, ix := range k.indexes {
		if !r.has(ix) {
			continue
		}
		p := buildPlan(r, k, ix, terms, conds, order)
		if p.ordered && p.decidesInFewestRanges() {
			// It reads exactly the page's rows: no plan reads fewer, so
			// the rest need not be weighed (the counter reads of an
			// estimate were a tenth of a list of operations with their
			// items, one plan per operation). Nor does one use fewer
			// ranges: a plan that decides the filter has a range per
			// combination of its equalities' values at least, and this
			// one has no more (it expands no enum). A tenant-scoped list
			// is one such plan, a range per visible tenant.
			return p
		}
		p.est = estimate(r, k, p)
		plans = append(plans, p)
		m := p.est
		if len(p.residual) > 0 {
			m /= 10
		}
		if matches < 0 || m < matches {
			matches = max(m, 1)
		}
	}
	var best *plan[R]
	bestCost := 0.0
	for _, p := range plans {
		var cost float64
		switch {
		case p.ordered && len(p.residual) == 0:
			cost = min(p.est, float64(limit+1))
		case p.ordered:
			// Rows read until limit+1 pass, if passing rows are spread
			// evenly; decoding each costs more than reading a key.
			cost = min(p.est, float64(limit+1)*p.est/matches) * 1.5
		default:
			cost = p.est*2 + 50 // read everything, then sort
		}
		if best == nil || cost < bestCost || cost == bestCost && len(p.prefixes) < len(best.prefixes) {
			best, bestCost = p, cost
		}
	}
	return best
}

// span is one key range of an index: [lo, hi), nil meaning open.
type span struct {
	prefix []byte
	lo, hi []byte
	whole  bool // merge with other spans by the whole key (plan.whole)
}

func (p *plan[R]) spans() []span {
	out := make([]span, len(p.prefixes))
	for i, pre := range p.prefixes {
		sp := span{prefix: pre, whole: p.whole}
		if p.lo != nil {
			sp.lo = append(slices.Clip(pre), p.lo...)
		} else if len(pre) > 0 {
			sp.lo = pre
		}
		if p.hi != nil {
			sp.hi = append(slices.Clip(pre), p.hi...)
		} else {
			sp.hi = prefixEnd(pre)
		}
		out[i] = sp
	}
	return out
}

// seekKey is the index key a position has within the range of prefix pre.
func seekKey[R any](k *kind[R], p *plan[R], order []Order, pre []byte, pos *position) []byte {
	if p.whole {
		// The position's whole key: ranges of other prefixes end before
		// or start after it.
		var b []byte
		for i, f := range p.ix.fields {
			c := positionComp(k, order, pos, f)
			if c == nil && i < len(p.fixed) {
				c = prefixComponent(pre, i) // fixed to one value
			}
			b = append(b, c...)
		}
		return append(b, pos.pk...)
	}
	b := slices.Clip(pre)
	for _, f := range p.ix.fields[len(p.fixed):] {
		b = append(b, positionComp(k, order, pos, f)...)
	}
	if !p.ix.primary {
		b = append(b, pos.pk...)
	}
	return b
}

func positionComp[R any](k *kind[R], order []Order, pos *position, field string) []byte {
	for i, o := range order {
		if o.Field == field {
			return pos.comps[i]
		}
	}
	for i, f := range k.pkFields {
		if f == field {
			return pkComponent(pos.pk, i)
		}
	}
	return nil
}

// bounded narrows spans to the positions strictly between after and
// before, in the requested order.
func bounded[R any](k *kind[R], p *plan[R], order []Order, after, before *position) []span {
	sps := p.spans()
	for i := range sps {
		sp := &sps[i]
		if after != nil {
			key := seekKey(k, p, order, sp.prefix, after)
			if p.desc {
				sp.hi = minBytes(sp.hi, key)
			} else {
				sp.lo = maxBytes(sp.lo, append(key, 0))
			}
		}
		if before != nil {
			key := seekKey(k, p, order, sp.prefix, before)
			if p.desc {
				sp.lo = maxBytes(sp.lo, append(key, 0))
			} else {
				sp.hi = minBytes(sp.hi, key)
			}
		}
	}
	return sps
}
