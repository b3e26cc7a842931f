package storage

// Paging: Relay's arguments (PageRequest.Check, the one check of them)
// and the two ways a page is read. orderedPage reads limit+1 matching rows
// from ranges already in the requested order, then probes (at most
// probeBudget keys) for a page on the other side of the cursor; sortedPage
// reads every candidate and keeps the best limit+1 in a heap.

import (
	"bytes"
	"container/heap"
	"context"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// probeBudget bounds the keys read to tell hasPreviousPage while paging
// forward (and hasNextPage backward); past it the answer is false, which
// Relay allows, never a false true.
const probeBudget = 1000

type row[R any] struct {
	rec *R
	pk  []byte
}

// Check validates Relay's paging arguments (contract §3): first and last
// exclude each other and range over 0..Max (0..any when Max is 0). It is the
// one check of them: every query runs it, and the GraphQL layer runs it
// before its own argument checks to answer in the same words. Cursors are
// checked when a query decodes them against its connection and orderBy.
func (p PageRequest) Check() error {
	if p.First != nil && p.Last != nil {
		return &InputError{Arg: "first", Value: strconv.Itoa(*p.First), Bare: true,
			Reason: `cannot be used together with "last": page forward with first/after or backward with last/before`}
	}
	for _, a := range []struct {
		name string
		v    *int
	}{{"first", p.First}, {"last", p.Last}} {
		switch {
		case a.v == nil:
		case *a.v < 0:
			return &InputError{Arg: a.name, Value: strconv.Itoa(*a.v), Bare: true, Reason: "must not be negative"}
		case p.Max > 0 && *a.v > p.Max:
			return &InputError{Arg: a.name, Value: strconv.Itoa(*a.v), Bare: true, Reason: "must be at most " + strconv.Itoa(p.Max)}
		}
	}
	return nil
}

// pageArgs checks page and says which way to read and how many records.
func pageArgs(page PageRequest) (forward bool, limit int, err error) {
	if err := page.Check(); err != nil {
		return false, 0, err
	}
	switch {
	case page.First != nil:
		return true, *page.First, nil
	case page.Last != nil:
		return false, *page.Last, nil
	}
	return true, DefaultPageSize, nil
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
