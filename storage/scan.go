package storage

// The scanner: the one file of the query engine that touches a bbolt
// cursor. walk reads the key ranges of a plan in index order, merging them,
// and looks records up in the primary bucket; matching decodes them and
// applies the plan's residual checks; walkKeys only counts keys.

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ctxEvery is how many keys a scan reads between checks of ctx.
const ctxEvery = 1024

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
	stats := observedStats(ctx) // observe.go: tracing; nil when not observed
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
			a, b := it.k[len(it.sp.prefix):], cur.k[len(cur.sp.prefix):]
			if it.sp.whole {
				a, b = it.k, cur.k
			}
			c := bytes.Compare(a, b)
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
		if stats != nil {
			stats.KeysRead++
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

// walkKeys counts keys in spans without reading records. The keys it read
// count into the query's observed KeysRead, as walk's do.
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
	if stats := observedStats(ctx); stats != nil {
		stats.KeysRead += n
	}
	return nil
}
