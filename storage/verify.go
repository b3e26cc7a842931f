package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// maxVerifyProblems bounds how many problems one Verify error lists.
const maxVerifyProblems = 20

// Verify checks the whole database in one read transaction: bbolt's own
// consistency check (page structure, freelist), that every record decodes,
// that every secondary index holds exactly the entries of the stored records
// and that every counter equals a recount. It returns nil for a consistent
// database and otherwise an error listing the first problems. It reads
// everything, so it takes about as long as an export; crash tests and
// operators' checks use it, the server does not.
func (s *Store) Verify(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		var problems []string
		add := func(format string, args ...any) {
			if len(problems) < maxVerifyProblems {
				problems = append(problems, fmt.Sprintf(format, args...))
			}
		}
		for err := range tx.Check() {
			add("bbolt: %v", err)
		}
		if len(problems) > 0 {
			// The page structure is broken: reading records may fail in
			// confusing ways, so stop here.
			return verifyError(problems)
		}
		want := map[string]int64{}
		for _, check := range []func(context.Context, *bolt.Tx, map[string]int64, func(string, ...any)) error{
			verifyKind(batchKind), verifyKind(operationKind), verifyKind(itemKind),
		} {
			if err := check(ctx, tx, want, add); err != nil {
				return err
			}
		}
		got := (&Reader{tx: tx}).Counters()
		names := make([]string, 0, len(want)+len(got))
		for n := range want {
			names = append(names, n)
		}
		for n := range got {
			if _, ok := want[n]; !ok {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			if want[n] != got[n] {
				add("counter %q is %d, a recount gives %d", n, got[n], want[n])
			}
		}
		if len(problems) > 0 {
			return verifyError(problems)
		}
		return nil
	})
}

func verifyError(problems []string) error {
	msg := "database is inconsistent:"
	for _, p := range problems {
		msg += "\n  " + p
	}
	if len(problems) == maxVerifyProblems {
		msg += "\n  … (more problems not listed)"
	}
	return errors.New(msg)
}

// verifyKind rebuilds the index entries and counters of one kind from its
// records, compares the indexes and adds the counts to counters.
func verifyKind[R any](k *kind[R]) func(context.Context, *bolt.Tx, map[string]int64, func(string, ...any)) error {
	return func(ctx context.Context, tx *bolt.Tx, counters map[string]int64, add func(string, ...any)) error {
		want := make([][][]byte, len(k.indexes))
		n := 0
		err := tx.Bucket(k.primary.bucket).ForEach(func(pk, v []byte) error {
			if n++; n%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			rec, err := k.decode(pk, v)
			if err != nil {
				add("%s %x: %v", k.name, pk, err)
				return nil
			}
			if got := k.pk(nil, rec); !bytes.Equal(got, pk) {
				add("%s %x: stored under another key than its natural key %x", k.name, pk, got)
			}
			for i, ix := range k.indexes[1:] {
				want[i+1] = append(want[i+1], indexKey(nil, k, ix, rec, pk))
			}
			for _, c := range recordCounters(k, rec) {
				counters[c]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, ix := range k.indexes[1:] {
			w := want[i+1]
			slices.SortFunc(w, bytes.Compare)
			b := tx.Bucket(ix.bucket)
			if b == nil {
				// A read-only look at a file made before the index existed.
				add("index %s of %s: bucket is missing (a read-write open builds it)", ix.name, k.name)
				continue
			}
			j := 0
			err := b.ForEach(func(key, _ []byte) error {
				for j < len(w) && bytes.Compare(w[j], key) < 0 {
					add("index %s of %s: entry %x is missing", ix.name, k.name, w[j])
					j++
				}
				if j < len(w) && bytes.Equal(w[j], key) {
					j++
					return nil
				}
				add("index %s of %s: entry %x belongs to no record", ix.name, k.name, key)
				return nil
			})
			if err != nil {
				return err
			}
			for ; j < len(w); j++ {
				add("index %s of %s: entry %x is missing", ix.name, k.name, w[j])
			}
		}
		return nil
	}
}
