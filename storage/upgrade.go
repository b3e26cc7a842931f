package storage

// Counter upgrade: a file keeps the counters of the counter sets it has
// counted, which "meta" records ("counted"). Open counts, in its one write
// transaction, the sets a file made by an older batchql lacks, from its
// records, and drops the counters of sets the schema no longer has, as it
// does for index buckets (store.go, upgradeIndexes), so the file is
// upgraded in place instead of re-imported.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// metaCounted is the "meta" key listing the counter sets a file keeps, by
// setID, sorted, one a line.
var metaCounted = []byte("counted")

// legacyCounted are the sets every file written before "counted" existed
// keeps: the counter sets of the first schema, unchanged until the tenant
// sets (TENANT_ID; TENANT_ID,TYPE) were added.
var legacyCounted = []string{
	"b", "b/TYPE/",
	"o", "o/STATE/", "o/OPERATION_TYPE/",
	"i", "i/STATE/", "i/BATCH_OPERATION_KEY/", "i/BATCH_OPERATION_KEY,STATE/",
}

// setID names a counter set: its counters' name prefix ("b/TENANT_ID,TYPE/"),
// or the total's name (the tag) for the empty set.
func setID(tag string, set []string) string { return counterName(tag, set, nil) }

// schemaCounted lists the setIDs of every kind's counter sets, sorted.
func schemaCounted() []string {
	var ids []string
	add := func(tag string, sets [][]string) {
		for _, set := range sets {
			ids = append(ids, setID(tag, set))
		}
	}
	add(batchKind.tag, batchKind.counterSets)
	add(operationKind.tag, operationKind.counterSets)
	add(itemKind.tag, itemKind.counterSets)
	slices.Sort(ids)
	return ids
}

// fileCounted returns the setIDs the file records as counted (the legacy
// sets when it records none).
func fileCounted(meta *bolt.Bucket) []string {
	var v []byte
	if meta != nil {
		v = meta.Get(metaCounted)
	}
	if v == nil {
		return legacyCounted
	}
	return strings.Split(string(v), "\n")
}

// lacking returns the schema's index buckets and counter sets (by setID)
// the file lacks, or nil when it has them all: what a read-only Open of a
// file made by an older batchql must do without.
func lacking(tx *bolt.Tx) map[string]bool {
	var out map[string]bool
	add := func(name string) {
		if out == nil {
			out = map[string]bool{}
		}
		out[name] = true
	}
	for _, ixs := range allIndexes {
		for _, ix := range ixs[1:] {
			if tx.Bucket(ix.bucket) == nil {
				add(string(ix.bucket))
			}
		}
	}
	have := fileCounted(tx.Bucket(bucketMeta))
	for _, id := range schemaCounted() {
		if !slices.Contains(have, id) {
			add(id)
		}
	}
	return out
}

// upgradeCounters counts the sets the file lacks, drops the counters of
// sets the schema no longer has and records the schema's sets as counted.
// A file whose sets are current is not written to.
func upgradeCounters(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	have := fileCounted(meta)
	want := schemaCounted()
	counters := tx.Bucket(bucketCounters)
	for _, id := range have {
		if !slices.Contains(want, id) {
			if err := dropCounters(counters, id); err != nil {
				return fmt.Errorf("drop old counters %s: %w", id, err)
			}
		}
	}
	if err := countSets(tx, batchKind, have); err != nil {
		return err
	}
	if err := countSets(tx, operationKind, have); err != nil {
		return err
	}
	if err := countSets(tx, itemKind, have); err != nil {
		return err
	}
	rec := []byte(strings.Join(want, "\n"))
	if bytes.Equal(meta.Get(metaCounted), rec) {
		return nil
	}
	return meta.Put(metaCounted, rec)
}

// countSets counts k's counter sets missing from have, in one pass over
// k's records, replacing whatever counters of those sets the file holds.
func countSets[R any](tx *bolt.Tx, k *kind[R], have []string) error {
	var sets [][]string
	for _, set := range k.counterSets {
		if !slices.Contains(have, setID(k.tag, set)) {
			sets = append(sets, set)
		}
	}
	if len(sets) == 0 {
		return nil
	}
	counters := tx.Bucket(bucketCounters)
	for _, set := range sets {
		if err := dropCounters(counters, setID(k.tag, set)); err != nil {
			return fmt.Errorf("count %s of %s: %w", setID(k.tag, set), k.name, err)
		}
	}
	sub := &kind[R]{tag: k.tag, fields: k.fields, counterSets: sets}
	w := &Writer{Reader: Reader{tx: tx}, deltas: map[string]int64{}}
	err := tx.Bucket(k.primary.bucket).ForEach(func(pk, v []byte) error {
		rec, err := k.decode(pk, v)
		if err != nil {
			return err
		}
		for _, c := range recordCounters(sub, rec) {
			w.deltas[c]++
		}
		return nil
	})
	if err == nil {
		err = w.flushCounters()
	}
	if err != nil {
		return fmt.Errorf("count %v of %s: %w", sets, k.name, err)
	}
	return nil
}

// dropCounters deletes the counters of the set named id: the total's one
// key, or every key under the set's prefix.
func dropCounters(counters *bolt.Bucket, id string) error {
	if !strings.HasSuffix(id, "/") {
		return counters.Delete([]byte(id))
	}
	var names [][]byte
	c := counters.Cursor()
	for k, _ := c.Seek([]byte(id)); k != nil && bytes.HasPrefix(k, []byte(id)); k, _ = c.Next() {
		names = append(names, slices.Clone(k))
	}
	for _, n := range names {
		if err := counters.Delete(n); err != nil {
			return err
		}
	}
	return nil
}
