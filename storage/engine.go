package storage

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

const (
	// maxPrefixCombos bounds the index ranges one plan merges (the product
	// of the value counts of `in` filters on index prefix fields).
	maxPrefixCombos = 64
	// probeBudget bounds the keys read to tell hasPreviousPage while paging
	// forward (and hasNextPage backward); past it the answer is false, which
	// Relay allows, never a false true.
	probeBudget = 1000
	// ctxEvery is how many keys a scan reads between checks of ctx.
	ctxEvery = 1024
)

// Batches answers the batches connection.
func (r *Reader) Batches(ctx context.Context, q BatchQuery) (*Page[Batch], error) {
	ts, err := batchTerms(&q.Filter)
	if err != nil {
		return nil, err
	}
	return runQuery(ctx, r.tx, batchKind, ts, q.Order, q.Page, q.Count)
}

// BatchOperations answers the batchOperations connection.
func (r *Reader) BatchOperations(ctx context.Context, q BatchOperationQuery) (*Page[BatchOperation], error) {
	ts, err := operationTerms(&q.Filter)
	if err != nil {
		return nil, err
	}
	return runQuery(ctx, r.tx, operationKind, ts, q.Order, q.Page, q.Count)
}

// Items answers the item connections (global and within one operation).
func (r *Reader) Items(ctx context.Context, q ItemQuery) (*Page[BatchOperationItem], error) {
	ts, err := itemTerms(&q.Filter)
	if err != nil {
		return nil, err
	}
	return runQuery(ctx, r.tx, itemKind, ts, q.Order, q.Page, q.Count)
}

// Batches answers the batches connection in one read transaction.
func (s *Store) Batches(ctx context.Context, q BatchQuery) (p *Page[Batch], err error) {
	err = s.View(ctx, func(r *Reader) error { p, err = r.Batches(ctx, q); return err })
	return p, err
}

// BatchOperations answers the batchOperations connection in one read transaction.
func (s *Store) BatchOperations(ctx context.Context, q BatchOperationQuery) (p *Page[BatchOperation], err error) {
	err = s.View(ctx, func(r *Reader) error { p, err = r.BatchOperations(ctx, q); return err })
	return p, err
}

// Items answers an item connection in one read transaction.
func (s *Store) Items(ctx context.Context, q ItemQuery) (p *Page[BatchOperationItem], err error) {
	err = s.View(ctx, func(r *Reader) error { p, err = r.Items(ctx, q); return err })
	return p, err
}

// plan is one way to answer a query: ranges of one index (one per
// combination of prefix values, merged when ordered), an optional range on
// the next index field, and the filter terms still to check per record.
type plan[R any] struct {
	ix       *index
	prefixes [][]byte
	fixed    []string // prefix fields, in index order
	single   bool     // every prefix field has exactly one value
	lo, hi   []byte   // bounds on the component after the prefix
	ordered  bool     // the scan yields the requested order
	desc     bool     // scan the index backward
	residual []func(*R) bool
	est      float64
}

type row[R any] struct {
	rec *R
	pk  []byte
}

func pageArgs(page PageRequest) (forward bool, limit int, err error) {
	if page.First != nil && page.Last != nil {
		return false, 0, &InputError{Arg: "first", Reason: "first and last cannot be used together"}
	}
	if page.First != nil && *page.First < 0 {
		return false, 0, &InputError{Arg: "first", Value: strconv.Itoa(*page.First), Reason: "must not be negative"}
	}
	if page.Last != nil && *page.Last < 0 {
		return false, 0, &InputError{Arg: "last", Value: strconv.Itoa(*page.Last), Reason: "must not be negative"}
	}
	switch {
	case page.First != nil:
		return true, *page.First, nil
	case page.Last != nil:
		return false, *page.Last, nil
	}
	return true, DefaultPageSize, nil
}

func runQuery[R any](ctx context.Context, tx *bolt.Tx, k *kind[R], terms []term[R], order []Order, page PageRequest, count bool) (_ *Page[R], err error) {
	ctx, stats, end := observeQuery(ctx, k.name) // observe.go: tracing
	if end != nil {
		stats.Counted = count
		defer func() { end(stats, err) }()
	}
	forward, limit, err := pageArgs(page)
	if err != nil {
		return nil, err
	}
	for _, o := range order {
		if k.fields[o.Field] == nil {
			return nil, &InputError{Arg: "orderBy", Value: o.Field, Reason: "unknown order field"}
		}
	}
	sig := orderSig(order)
	rd := &Reader{tx: tx}
	var after, before *position
	if page.After != "" {
		if after, err = decodeCursor("after", page.After, k.conn, sig, len(order), len(k.pkFields)); err != nil {
			return nil, err
		}
	}
	if page.Before != "" {
		if before, err = decodeCursor("before", page.Before, k.conn, sig, len(order), len(k.pkFields)); err != nil {
			return nil, err
		}
	}
	res := &Page[R]{}
	if count {
		if res.TotalCount, err = countMatches(ctx, rd, k, terms); err != nil {
			return nil, err
		}
	}
	if matchesNothing(terms) {
		return res, nil
	}
	p := choosePlan(rd, k, terms, order, limit)
	if stats != nil {
		stats.Plan = p.describe()
	}
	var rows []row[R]
	if p.ordered {
		rows, err = orderedPage(ctx, tx, k, p, order, after, before, forward, limit, res)
	} else {
		rows, err = sortedPage(ctx, tx, k, p, order, after, before, forward, limit, res)
	}
	if err != nil {
		return nil, err
	}
	res.Edges = make([]Edge[R], len(rows))
	src := &cursorSource[R]{k: k, order: order, sig: sig}
	for i, rw := range rows {
		res.Edges[i] = Edge[R]{Node: rw.rec, src: src}
	}
	return res, nil
}

// matchesNothing reports a filter that no record can match (`in: []`).
func matchesNothing[R any](terms []term[R]) bool {
	for _, t := range terms {
		if t.cond != nil && t.cond.eq != nil && len(t.cond.eq) == 0 {
			return true
		}
	}
	return false
}

func condsOf[R any](terms []term[R]) map[string]*cond {
	m := map[string]*cond{}
	for _, t := range terms {
		if t.cond != nil && t.field != "" {
			m[t.field] = t.cond
		}
	}
	return m
}

// buildPlan fits index ix to the filter and the order.
func buildPlan[R any](r *Reader, k *kind[R], ix *index, terms []term[R], conds map[string]*cond, order []Order) *plan[R] {
	p := &plan[R]{ix: ix, prefixes: [][]byte{nil}, single: true}
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
		if !expand {
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
		if t.field == "" || !used[t.field] {
			p.residual = append(p.residual, t.pred)
		}
	}
	p.ordered, p.desc = servesOrder(k, ix, p, conds, order)
	return p
}

// crossPrefixes extends every prefix by every value (a range per
// combination of filtered values).
func crossPrefixes(prefixes, vals [][]byte) [][]byte {
	next := make([][]byte, 0, len(prefixes)*len(vals))
	for _, pre := range prefixes {
		for _, v := range vals {
			next = append(next, append(slices.Clip(pre), v...))
		}
	}
	return next
}

// servesOrder reports whether scanning ix after the plan's prefix yields
// the requested order, and in which direction. Order entries on fields fixed
// to one value are no-ops; the rest must be the index's next fields, all in
// one direction, which must also be the direction of the key tie-break.
func servesOrder[R any](k *kind[R], ix *index, p *plan[R], conds map[string]*cond, order []Order) (ok, desc bool) {
	desc = len(order) > 0 && order[len(order)-1].Desc
	var need []string
	for _, o := range order {
		if c := conds[o.Field]; c != nil && len(c.eq) == 1 && slices.Contains(p.fixed, o.Field) {
			continue
		}
		if o.Desc != desc {
			return false, false
		}
		need = append(need, o.Field)
	}
	rest := ix.fields[len(p.fixed):]
	if len(need) > len(rest) || !slices.Equal(need, rest[:len(need)]) {
		return false, false
	}
	if ix.primary {
		// The scan order after the prefix is the rest of the primary key,
		// which is the tie-break only if the prefix is one value.
		return p.single, desc
	}
	return len(need) == len(rest), desc
}

// estimate guesses how many keys the plan's ranges hold, exactly where a
// counter covers the prefix fields.
func estimate[R any](r *Reader, k *kind[R], p *plan[R]) float64 {
	n := float64(r.counter(k.tag))
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

// counterSum sums the counters of set for each prefix (concatenated encoded
// values of the set's fields in index order); ok is false when no counter
// set equals fields.
func counterSum[R any](r *Reader, k *kind[R], fields []string, prefixes [][]byte) (int, bool) {
	for _, set := range k.counterSets {
		if !slices.Equal(set, fields) {
			continue
		}
		total := 0
		for _, pre := range prefixes {
			total += r.counter(counterName(k.tag, set, [][]byte{pre}))
		}
		return total, true
	}
	return 0, false
}

func choosePlan[R any](r *Reader, k *kind[R], terms []term[R], order []Order, limit int) *plan[R] {
	conds := condsOf(terms)
	plans := make([]*plan[R], 0, len(k.indexes))
	// matches estimates how many records pass the whole filter: the
	// smallest range that needs no further checks, else a tenth of the
	// smallest range.
	matches := -1.0
	for _, ix := range k.indexes {
		p := buildPlan(r, k, ix, terms, conds, order)
		if p.ordered && len(p.residual) == 0 && len(p.prefixes) == 1 {
			// It reads exactly the page's rows from one range: no plan
			// reads fewer, so the rest need not be weighed (the counter
			// reads of an estimate were a tenth of a list of operations
			// with their items, one plan per operation).
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
}

func (p *plan[R]) spans() []span {
	out := make([]span, len(p.prefixes))
	for i, pre := range p.prefixes {
		sp := span{prefix: pre}
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

type spanIter struct {
	c    *bolt.Cursor
	sp   span
	asc  bool
	k, v []byte
}

func (it *spanIter) start() {
	switch {
	case it.asc && it.sp.lo == nil:
		it.k, it.v = it.c.First()
	case it.asc:
		it.k, it.v = it.c.Seek(it.sp.lo)
	case it.sp.hi == nil:
		it.k, it.v = it.c.Last()
	default:
		if it.k, it.v = it.c.Seek(it.sp.hi); it.k == nil {
			it.k, it.v = it.c.Last()
		} else {
			it.k, it.v = it.c.Prev()
		}
	}
	it.check()
}

func (it *spanIter) next() {
	if it.asc {
		it.k, it.v = it.c.Next()
	} else {
		it.k, it.v = it.c.Prev()
	}
	it.check()
}

func (it *spanIter) check() {
	if it.k == nil {
		return
	}
	if it.asc && it.sp.hi != nil && bytes.Compare(it.k, it.sp.hi) >= 0 ||
		!it.asc && it.sp.lo != nil && bytes.Compare(it.k, it.sp.lo) < 0 {
		it.k, it.v = nil, nil
	}
}

// walk visits the keys of spans in index order (ascending or descending),
// merging the spans by the key after each span's prefix, and passes each
// key with its record value to fn until fn returns false or budget keys
// (when > 0) were read.
func walk(ctx context.Context, tx *bolt.Tx, ix *index, primary []byte, sps []span, asc bool, budget int, fn func(pk, v []byte) (bool, error)) error {
	fn = countKeys(ctx, fn) // observe.go: tracing
	b := tx.Bucket(ix.bucket)
	pb := tx.Bucket(primary)
	its := make([]*spanIter, 0, len(sps))
	for _, sp := range sps {
		if sp.lo != nil && sp.hi != nil && bytes.Compare(sp.lo, sp.hi) >= 0 {
			continue
		}
		it := &spanIter{c: b.Cursor(), sp: sp, asc: asc}
		it.start()
		its = append(its, it)
	}
	for n := 0; ; n++ {
		if n%ctxEvery == ctxEvery-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if budget > 0 && n >= budget {
			return nil
		}
		var cur *spanIter
		for _, it := range its {
			if it.k == nil {
				continue
			}
			if cur == nil {
				cur = it
				continue
			}
			c := bytes.Compare(it.k[len(it.sp.prefix):], cur.k[len(cur.sp.prefix):])
			if asc && c < 0 || !asc && c > 0 {
				cur = it
			}
		}
		if cur == nil {
			return nil
		}
		pk, v := cur.k, cur.v
		if !ix.primary {
			var err error
			if pk, err = pkOf(ix, cur.k); err != nil {
				return fmt.Errorf("index %s: %w", ix.name, err)
			}
			if v = pb.Get(pk); v == nil {
				return fmt.Errorf("index %s points at a missing record", ix.name)
			}
		}
		more, err := fn(pk, v)
		if err != nil || !more {
			return err
		}
		cur.next()
	}
}

// matching walks the plan's spans and passes records that pass the
// residual filter.
func matching[R any](ctx context.Context, tx *bolt.Tx, k *kind[R], p *plan[R], sps []span, asc bool, budget int, fn func(pk []byte, rec *R) bool) error {
	return walk(ctx, tx, p.ix, k.primary.bucket, sps, asc, budget, func(pk, v []byte) (bool, error) {
		rec, err := k.decode(pk, v)
		if err != nil {
			return false, err
		}
		for _, pred := range p.residual {
			if !pred(rec) {
				return true, nil
			}
		}
		return fn(pk, rec), nil
	})
}

func orderedPage[R any](ctx context.Context, tx *bolt.Tx, k *kind[R], p *plan[R], order []Order, after, before *position, forward bool, limit int, res *Page[R]) ([]row[R], error) {
	var rows []row[R]
	asc := forward != p.desc
	err := matching(ctx, tx, k, p, bounded(k, p, order, after, before), asc, 0, func(pk []byte, rec *R) bool {
		rows = append(rows, row[R]{rec: rec, pk: slices.Clone(pk)})
		return len(rows) <= limit
	})
	if err != nil {
		return nil, err
	}
	more := len(rows) > limit
	rows = rows[:min(limit, len(rows))]
	exists := func(from *position, fwd bool) (bool, error) {
		found := false
		var sps []span
		if fwd {
			sps = bounded(k, p, order, from, nil)
		} else {
			sps = bounded(k, p, order, nil, from)
		}
		err := matching(ctx, tx, k, p, sps, fwd != p.desc, probeBudget, func([]byte, *R) bool {
			found = true
			return false
		})
		return found, err
	}
	if forward {
		res.HasNextPage = more
		if after != nil {
			if res.HasPreviousPage, err = exists(after, false); err != nil {
				return nil, err
			}
		}
		return rows, nil
	}
	res.HasPreviousPage = more
	slices.Reverse(rows)
	if before != nil {
		if res.HasNextPage, err = exists(before, true); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// sortedPage answers an order no index gives: it reads every candidate of
// the plan's ranges and keeps the best limit+1 in a heap.
func sortedPage[R any](ctx context.Context, tx *bolt.Tx, k *kind[R], p *plan[R], order []Order, after, before *position, forward bool, limit int, res *Page[R]) ([]row[R], error) {
	var afterKey, beforeKey []byte
	if after != nil {
		afterKey = orderedKey(nil, order, after.comps, after.pk)
	}
	if before != nil {
		beforeKey = orderedKey(nil, order, before.comps, before.pk)
	}
	h := &rowHeap[R]{max: forward}
	var earlier, later bool
	comps := make([][]byte, len(order))
	var okey []byte
	err := matching(ctx, tx, k, p, p.spans(), true, 0, func(pk []byte, rec *R) bool {
		for j, o := range order {
			comps[j] = k.fields[o.Field](comps[j][:0], rec)
		}
		okey = orderedKey(okey[:0], order, comps, pk)
		if afterKey != nil && bytes.Compare(okey, afterKey) <= 0 {
			earlier = true
			return true
		}
		if beforeKey != nil && bytes.Compare(okey, beforeKey) >= 0 {
			later = true
			return true
		}
		if h.Len() > limit {
			// Full: replace the worst kept row only if this one is better.
			c := bytes.Compare(okey, h.rows[0].okey)
			if forward && c >= 0 || !forward && c <= 0 {
				return true
			}
			heap.Pop(h)
		}
		heap.Push(h, sortRow[R]{okey: slices.Clone(okey), row: row[R]{rec: rec, pk: slices.Clone(pk)}})
		return true
	})
	if err != nil {
		return nil, err
	}
	sorted := h.rows
	slices.SortFunc(sorted, func(a, b sortRow[R]) int { return bytes.Compare(a.okey, b.okey) })
	more := len(sorted) > limit
	if more {
		if forward {
			sorted = sorted[:limit]
		} else {
			sorted = sorted[1:]
		}
	}
	if forward {
		res.HasNextPage, res.HasPreviousPage = more, earlier
	} else {
		res.HasNextPage, res.HasPreviousPage = later, more
	}
	rows := make([]row[R], len(sorted))
	for i, s := range sorted {
		rows[i] = s.row
	}
	return rows, nil
}

type sortRow[R any] struct {
	okey []byte
	row  row[R]
}

// rowHeap keeps the worst kept row on top: the largest when max is set
// (paging forward keeps the smallest keys), else the smallest.
type rowHeap[R any] struct {
	rows []sortRow[R]
	max  bool
}

func (h *rowHeap[R]) Len() int { return len(h.rows) }
func (h *rowHeap[R]) Less(i, j int) bool {
	c := bytes.Compare(h.rows[i].okey, h.rows[j].okey)
	if h.max {
		return c > 0
	}
	return c < 0
}
func (h *rowHeap[R]) Swap(i, j int) { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *rowHeap[R]) Push(x any)    { h.rows = append(h.rows, x.(sortRow[R])) }
func (h *rowHeap[R]) Pop() any {
	x := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return x
}

// countMatches counts every record matching terms: from counters when the
// filter is equalities on a counted field set, else by walking the best
// index's ranges, reading only keys when the ranges decide the filter.
func countMatches[R any](ctx context.Context, r *Reader, k *kind[R], terms []term[R]) (int, error) {
	tx := r.tx
	if matchesNothing(terms) {
		return 0, nil
	}
	if n, ok := countFromCounters(r, k, terms); ok {
		return n, nil
	}
	conds := condsOf(terms)
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
			return counterSum(r, k, set, prefixes)
		}
	}
	return 0, false
}

// walkKeys counts keys in spans without reading records.
func walkKeys(ctx context.Context, tx *bolt.Tx, ix *index, sps []span, fn func()) error {
	b := tx.Bucket(ix.bucket)
	n := 0
	for _, sp := range sps {
		it := &spanIter{c: b.Cursor(), sp: sp, asc: true}
		for it.start(); it.k != nil; it.next() {
			if n++; n%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			fn()
		}
	}
	return nil
}
