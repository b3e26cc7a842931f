package storage

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Upserts are the write seam for everything that merges partial records
// into the store (the importer today; live sync and replication later): the
// caller names a record by its natural key and gives a merge function, the
// store reads the stored record, merges, and writes the result together
// with its index entries and counters, all in the caller's write
// transaction (Store.Update), whose size stays the caller's choice.
//
// Every change of a record goes through upsert below, one record at a time,
// inside bbolt's single writer, and reports an Outcome. That is the hook of
// the change feed (feed.go): while a commit listener is set, the Writer
// collects the keys of the records that changed and Store.Update hands
// them on after the commit, in commit order.

// Outcome is what an upsert did to its record.
type Outcome uint8

const (
	// Unchanged: the record was stored and merging left its encoded value
	// as it was; nothing was written (no record, index or counter write).
	Unchanged Outcome = iota
	// New: no record with that key was stored; the merged one was added.
	New
	// Updated: the stored record was replaced by the merged one, which
	// differs from it.
	Updated
)

// Changed reports whether the upsert wrote (New or Updated).
func (o Outcome) Changed() bool { return o != Unchanged }

func (o Outcome) String() string {
	switch o {
	case Unchanged:
		return "unchanged"
	case New:
		return "new"
	case Updated:
		return "updated"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// errNoRecord is returned when a merge function returns neither a record
// nor an error.
var errNoRecord = errors.New("merge returned no record")

// UpsertBatch merges into the batch with that id: merge gets the stored
// batch (a copy it may change and return), or nil when there is none, and
// returns the batch to store, whose BatchID must be id. An error from
// merge is returned as is and nothing is written.
func (w *Writer) UpsertBatch(id string, merge func(old *Batch) (*Batch, error)) (Outcome, error) {
	return upsert(w, batchKind, appendKey(make([]byte, 0, keyCap), id), merge)
}

// UpsertBatchOperation merges into the operation with that key; see
// UpsertBatch.
func (w *Writer) UpsertBatchOperation(key string, merge func(old *BatchOperation) (*BatchOperation, error)) (Outcome, error) {
	return upsert(w, operationKind, appendKey(make([]byte, 0, keyCap), key), merge)
}

// UpsertItem merges into the item (opKey, itemKey); see UpsertBatch.
func (w *Writer) UpsertItem(opKey, itemKey string, merge func(old *BatchOperationItem) (*BatchOperationItem, error)) (Outcome, error) {
	return upsert(w, itemKind, appendKey(appendKey(make([]byte, 0, 2*keyCap), opKey), itemKey), merge)
}

// keyCap is room for an encoded numeric key (10 bytes) and most others,
// so building a record's key allocates once.
const keyCap = 24

func upsert[R any](w *Writer, k *kind[R], pk []byte, merge func(*R) (*R, error)) (Outcome, error) {
	w.upserts++
	GiveWay(w.upserts) // yield.go
	c := w.up.cursor(w.tx, k.primary)
	key, stored := c.Seek(pk)
	if !bytes.Equal(key, pk) {
		stored = nil
	}
	var old *R
	if stored != nil {
		var err error
		if old, err = k.decode(pk, stored); err != nil {
			return Unchanged, err
		}
	}
	rec, err := merge(old)
	if err != nil {
		return Unchanged, err
	}
	if rec == nil {
		return Unchanged, fmt.Errorf("%s: %w", k.name, errNoRecord)
	}
	w.up.pk = k.pk(w.up.pk[:0], rec)
	if !bytes.Equal(w.up.pk, pk) {
		return Unchanged, fmt.Errorf("%s %s: merge changed the key", k.name, k.describe(rec))
	}
	if err := k.validate(rec); err != nil {
		return Unchanged, err
	}
	val, err := k.encode(rec)
	if err != nil {
		return Unchanged, fmt.Errorf("%s %s: %w", k.name, k.describe(rec), err)
	}
	if stored == nil {
		w.noteChange(k.feed, pk)
		return New, storeRecord(w, k, pk, val, nil, rec)
	}
	if bytes.Equal(val, stored) {
		return Unchanged, nil
	}
	w.noteChange(k.feed, pk)
	// merge may have changed old in place: the index entries and counters
	// to remove are those of the stored value.
	if old, err = k.decode(pk, stored); err != nil {
		return Unchanged, err
	}
	return Updated, storeRecord(w, k, pk, val, old, rec)
}

// upsertState is what a Writer's upserts reuse from one record to the
// next: key buffers, one cursor per bucket and the counter names met. Live
// sync stores ~100,000 changed items a phase, each moving four index
// entries and two counters. BenchmarkUpsertItemsProgress (load ~1-2):
// 102 allocations and 21.8-23.4 µs of CPU an item before (half of the
// allocations bbolt's cursor stacks, a fifth the counter names), 29 and
// 13.0-13.2 µs with these and the cheaper key codecs (keys.go, codec.go).
// What is left is mostly bbolt: each Bucket.Put still makes a cursor
// (3 allocations) and clones its key.
type upsertState struct {
	pk, ix, oldIx, name []byte
	// cursors are reused by seeks (Cursor.Seek keeps its stack; a
	// Bucket.Get or Delete makes a cursor whose stack grows anew).
	// Every use seeks first, so writes in between do not matter.
	cursors map[*index]*bolt.Cursor
	// names interns the counter names of this transaction, so adding to
	// a counter already in Writer.deltas allocates nothing.
	names map[string]string
}

func (u *upsertState) cursor(tx *bolt.Tx, ix *index) *bolt.Cursor {
	c := u.cursors[ix]
	if c == nil {
		if u.cursors == nil {
			u.cursors = map[*index]*bolt.Cursor{}
		}
		c = tx.Bucket(ix.bucket).Cursor()
		u.cursors[ix] = c
	}
	return c
}

// storeRecord writes rec (encoded val, primary key pk) over old (nil when
// new) and moves its index entries and counters from old's values to rec's.
func storeRecord[R any](w *Writer, k *kind[R], pk, val []byte, old, rec *R) error {
	u := &w.up
	if err := u.cursor(w.tx, k.primary).Bucket().Put(pk, val); err != nil {
		return err
	}
	for _, ix := range k.indexes[1:] {
		u.ix = indexKey(u.ix[:0], k, ix, rec, pk)
		c := u.cursor(w.tx, ix)
		if old != nil {
			u.oldIx = indexKey(u.oldIx[:0], k, ix, old, pk)
			if bytes.Equal(u.oldIx, u.ix) {
				continue
			}
			if key, _ := c.Seek(u.oldIx); bytes.Equal(key, u.oldIx) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		if err := c.Bucket().Put(u.ix, nil); err != nil {
			return err
		}
	}
	for _, set := range k.counterSets {
		name := counterOf(u, k, set, rec)
		if old != nil {
			if was := counterOf(u, k, set, old); was != name {
				w.deltas[was]--
			} else {
				continue
			}
		}
		w.deltas[name]++
	}
	return nil
}

// counterOf returns the name of rec's counter of set, one of
// k.counterSets: counterName of its encoded values, interned in u.
func counterOf[R any](u *upsertState, k *kind[R], set []string, rec *R) string {
	if len(set) == 0 {
		return k.tag
	}
	b := append(u.name[:0], k.tag...)
	b = append(b, '/')
	for i, f := range set {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f...)
	}
	b = append(b, '/')
	for _, f := range set {
		b = k.fields[f](b, rec)
	}
	u.name = b
	if name, ok := u.names[string(b)]; ok {
		return name
	}
	if u.names == nil {
		u.names = map[string]string{}
	}
	name := string(b)
	u.names[name] = name
	return name
}

// HasBatch reports whether a batch with that id is stored, without
// decoding it.
func (r *Reader) HasBatch(id string) bool {
	return r.tx.Bucket(batchKind.primary.bucket).Get(appendKey(nil, id)) != nil
}

// HasBatchOperation reports whether an operation with that key is stored.
func (r *Reader) HasBatchOperation(key string) bool {
	return r.tx.Bucket(operationKind.primary.bucket).Get(appendKey(nil, key)) != nil
}

// HasItem reports whether the item (opKey, itemKey) is stored.
func (r *Reader) HasItem(opKey, itemKey string) bool {
	return r.tx.Bucket(itemKind.primary.bucket).Get(appendKey(appendKey(nil, opKey), itemKey)) != nil
}

// EachBatch calls fn with every stored batch in key order (a copy); an
// error from fn stops the walk and is returned.
func (r *Reader) EachBatch(fn func(*Batch) error) error { return eachRecord(r, batchKind, fn) }

// EachBatchOperation calls fn with every stored operation; see EachBatch.
func (r *Reader) EachBatchOperation(fn func(*BatchOperation) error) error {
	return eachRecord(r, operationKind, fn)
}

// EachItem calls fn with every stored item, by operation and item key; see
// EachBatch.
func (r *Reader) EachItem(fn func(*BatchOperationItem) error) error {
	return eachRecord(r, itemKind, fn)
}

func eachRecord[R any](r *Reader, k *kind[R], fn func(*R) error) error {
	return r.tx.Bucket(k.primary.bucket).ForEach(func(pk, v []byte) error {
		rec, err := k.decode(pk, v)
		if err != nil {
			return err
		}
		return fn(rec)
	})
}

// CompareKeys compares two natural keys (ids, operation or item keys) in
// the order the store keeps them: numeric keys first, as numbers, then the
// others bytewise. It returns -1, 0 or +1.
func CompareKeys(a, b string) int { return bytes.Compare(appendKey(nil, a), appendKey(nil, b)) }
