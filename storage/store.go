package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options tune Open.
type Options struct {
	// Timeout bounds the wait for bbolt's file lock; another process holding
	// the database makes Open fail after it. Zero means one second.
	Timeout time.Duration
	// InitialMmapSize is mapped up front so readers are not blocked by remaps
	// while the file grows. Zero means 1 GiB.
	InitialMmapSize int
	// ReadOnly opens the file with a shared lock and no writes.
	ReadOnly bool
	// NoSync skips fsync on commit: only for throwaway databases in tests
	// and benchmarks.
	NoSync bool
}

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("database is in use by another process")

// Store is the bbolt read model. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	feed feed // the change feed of commits (feed.go)
	// lacks names the index buckets and counter sets (setID) a read-only
	// file lacks, written before they existed and not opened for writing
	// since (upgrade.go): the planner and the counts do without them. nil
	// when the file has them all (always after a read-write Open).
	lacks map[string]bool
}

var (
	bucketMeta     = []byte("meta")
	bucketCounters = []byte("counters")
	schemaVersion  = []byte{1}
)

// Open opens (creating if needed) the database at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	if opts.InitialMmapSize == 0 {
		opts.InitialMmapSize = 1 << 30
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.Timeout,
		InitialMmapSize: opts.InitialMmapSize,
		ReadOnly:        opts.ReadOnly,
		NoSync:          opts.NoSync,
		FreelistType:    bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (waited %s for its lock)", path, ErrLocked, opts.Timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if opts.ReadOnly {
		if err := db.View(func(tx *bolt.Tx) error { s.lacks = lacking(tx); return nil }); err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return s, nil
	}
	if err := db.Update(s.init); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) init(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if v := meta.Get([]byte("schema")); v != nil && string(v) != string(schemaVersion) {
		return fmt.Errorf("database schema version %v is not %v: re-import into a new file", v, schemaVersion)
	}
	if err := meta.Put([]byte("schema"), schemaVersion); err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(bucketCounters); err != nil {
		return err
	}
	for _, err := range []error{upgradeIndexes(tx, batchKind), upgradeIndexes(tx, operationKind), upgradeIndexes(tx, itemKind)} {
		if err != nil {
			return err
		}
	}
	if err := upgradeCounters(tx); err != nil { // upgrade.go
		return err
	}
	// Index buckets the schema no longer has are dropped, so a file made
	// by an older batchql does not keep stale entries.
	known := map[string]bool{}
	for _, ixs := range allIndexes {
		for _, ix := range ixs {
			known[string(ix.bucket)] = true
		}
	}
	var stale [][]byte
	tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if strings.HasPrefix(string(name), "ix ") && !known[string(name)] {
			stale = append(stale, slices.Clone(name))
		}
		return nil
	})
	for _, name := range stale {
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("drop old index %s: %w", name, err)
		}
	}
	return nil
}

// upgradeIndexes creates k's buckets, filling an index bucket that a file
// made by an older batchql lacks from the stored records: opening upgrades
// the file in place instead of asking for a re-import.
func upgradeIndexes[R any](tx *bolt.Tx, k *kind[R]) error {
	primary, err := tx.CreateBucketIfNotExists(k.primary.bucket)
	if err != nil {
		return err
	}
	for _, ix := range k.indexes[1:] {
		if tx.Bucket(ix.bucket) != nil {
			continue
		}
		b, err := tx.CreateBucket(ix.bucket)
		if err != nil {
			return err
		}
		b.FillPercent = fillPercent
		var key []byte
		err = primary.ForEach(func(pk, v []byte) error {
			rec, err := k.decode(pk, v)
			if err != nil {
				return err
			}
			key = indexKey(key[:0], k, ix, rec, pk)
			return b.Put(slices.Clone(key), nil)
		})
		if err != nil {
			return fmt.Errorf("build index %s of %s: %w", ix.name, k.name, err)
		}
	}
	return nil
}

// Close closes the database file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// DB exposes the bbolt handle for checks and tools (bbolt's consistency
// check, stats); records must be written through Update.
func (s *Store) DB() *bolt.DB { return s.db }

// Reader reads within one bbolt read transaction: everything it returns
// comes from one snapshot. Records it returns are copies, valid after the
// transaction ends.
type Reader struct {
	tx       *bolt.Tx
	counters *bolt.Bucket    // looked up once: read transactions don't cache buckets
	tenants  *TenantScope    // batches this reader may see (tenant.go); nil: all
	lacks    map[string]bool // the Store's: what a read-only file lacks
	// A query's planner reads the kind's total once per index it weighs
	// and sums per-value counters: the total is read once (totalTag,
	// total) and counter names are built in key.
	totalTag string
	total    int
	key      []byte
}

// View runs fn in a read transaction (one snapshot). The Reader's batch
// reads see only the tenant scope of ctx (WithTenants), if any.
func (s *Store) View(ctx context.Context, fn func(*Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tenants := TenantsOf(ctx)
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Reader{tx: tx, tenants: tenants, lacks: s.lacks}) })
}

// Writer writes within one bbolt read-write transaction. Counter changes are
// gathered and written once at the end of the transaction.
type Writer struct {
	Reader
	deltas map[string]int64
	up     upsertState // upsert's reused buffers and cursors (upsert.go)
	// changed collects the keys of the records this transaction changed
	// while a commit listener is set (feed.go), those interest names; nil
	// otherwise.
	changed  *[]Key
	interest *Interest
	upserts  int // in this transaction, for GiveWay
}

// Update runs fn in one read-write transaction; nothing is written when fn
// fails.
func (s *Store) Update(ctx context.Context, fn func(*Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		setFill(tx)
		w := &Writer{Reader: Reader{tx: tx}, deltas: map[string]int64{}}
		if l := s.feed.listener.Load(); l != nil {
			w.changed, w.interest = new([]Key), l.in
		}
		if err := fn(w); err != nil {
			return err
		}
		if err := w.flushCounters(); err != nil {
			return err
		}
		s.feed.track(tx, w.changed)
		return nil
	})
}

// fillPercent is how full bbolt leaves pages it splits. Its default, 0.5,
// suits random inserts; ours mostly append (keys grow with time and items
// arrive in key order), and 0.9 made a 200k-item demo file 37% smaller
// (1238 → 784 bytes an item) at the same CPU cost.
const fillPercent = 0.9

// setFill applies fillPercent: bbolt keeps it per Bucket handle, which a
// write transaction caches, so it holds for the whole transaction.
func setFill(tx *bolt.Tx) {
	tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
		b.FillPercent = fillPercent
		return nil
	})
}

// Batch returns the batch with that id, or nil when there is none or the
// reader's tenant scope does not include it (the two are indistinguishable).
func (r *Reader) Batch(id string) (*Batch, error) {
	b, err := getRecord(r.tx, batchKind, appendKey(nil, id))
	if b != nil && !r.tenants.Visible(b.TenantID) {
		return nil, err
	}
	return b, err
}

// BatchOperation returns the operation with that key, or nil.
func (r *Reader) BatchOperation(key string) (*BatchOperation, error) {
	return getRecord(r.tx, operationKind, appendKey(nil, key))
}

// Item returns one item, or nil.
func (r *Reader) Item(opKey, itemKey string) (*BatchOperationItem, error) {
	return getRecord(r.tx, itemKind, appendKey(appendKey(nil, opKey), itemKey))
}

// BatchOperationsByKey returns the operations with the given keys in the same
// order, nil where unknown: one pass for a whole page of items.
func (r *Reader) BatchOperationsByKey(keys []string) ([]*BatchOperation, error) {
	out := make([]*BatchOperation, len(keys))
	seen := map[string]*BatchOperation{}
	for i, k := range keys {
		if o, ok := seen[k]; ok {
			out[i] = o
			continue
		}
		o, err := r.BatchOperation(k)
		if err != nil {
			return nil, err
		}
		seen[k], out[i] = o, o
	}
	return out, nil
}

func getRecord[R any](tx *bolt.Tx, k *kind[R], pk []byte) (*R, error) {
	v := tx.Bucket(k.primary.bucket).Get(pk)
	if v == nil {
		return nil, nil
	}
	return k.decode(pk, v)
}

// PutBatch stores b whole, replacing any stored batch with that id, and
// keeps indexes and counters in step. It reports whether b was new. It is
// an upsert (upsert.go) whose merge ignores the stored record, so a Put of
// the stored value writes nothing.
func (w *Writer) PutBatch(b *Batch) (bool, error) { return putRecord(w, batchKind, b) }

// PutBatchOperation stores o whole; see PutBatch.
func (w *Writer) PutBatchOperation(o *BatchOperation) (bool, error) {
	return putRecord(w, operationKind, o)
}

// PutItem stores it whole; see PutBatch.
func (w *Writer) PutItem(it *BatchOperationItem) (bool, error) { return putRecord(w, itemKind, it) }

func putRecord[R any](w *Writer, k *kind[R], rec *R) (bool, error) {
	o, err := upsert(w, k, k.pk(make([]byte, 0, 2*keyCap), rec), func(*R) (*R, error) { return rec, nil })
	return o == New, err
}

func (w *Writer) flushCounters() error {
	b := w.tx.Bucket(bucketCounters)
	keys := make([]string, 0, len(w.deltas))
	for c, d := range w.deltas {
		if d != 0 {
			keys = append(keys, c)
		}
	}
	sort.Strings(keys) // sequential puts are cheaper for bbolt
	for _, c := range keys {
		n := counterValue(b, c) + w.deltas[c]
		var err error
		if n == 0 {
			err = b.Delete([]byte(c))
		} else {
			err = b.Put([]byte(c), binary.BigEndian.AppendUint64(nil, uint64(n)))
		}
		if err != nil {
			return err
		}
	}
	clear(w.deltas)
	return nil
}

func counterValue(b *bolt.Bucket, name string) int64 {
	return counterAt(b, []byte(name))
}

func counterAt(b *bolt.Bucket, name []byte) int64 {
	v := b.Get(name)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func (r *Reader) counter(name string) int {
	if r.counters == nil {
		r.counters = r.tx.Bucket(bucketCounters)
	}
	return int(counterValue(r.counters, name))
}

// totalOf is the total counter of the kind tagged tag, read once a Reader.
func (r *Reader) totalOf(tag string) int {
	if r.totalTag != tag {
		r.total, r.totalTag = r.counter(tag), tag
	}
	return r.total
}

// counterSet is the counter of set (not empty) for the encoded values
// pre, concatenated in the set's order.
func (r *Reader) counterSet(tag string, set []string, pre []byte) int {
	if r.counters == nil {
		r.counters = r.tx.Bucket(bucketCounters)
	}
	b := append(r.key[:0], tag...) // counterName's name, without allocating
	sep := byte('/')
	for _, f := range set {
		b = append(append(b, sep), f...)
		sep = ','
	}
	b = append(append(b, '/'), pre...)
	r.key = b
	return int(counterAt(r.counters, b))
}

// counted reports whether the file keeps the counters of k's set (tag is
// k.tag): a read-only file written before the set existed does not.
func (r *Reader) counted(tag string, set []string) bool {
	return r.lacks == nil || !r.lacks[setID(tag, set)]
}

// has reports whether the file has index ix's bucket (see Store.lacks).
func (r *Reader) has(ix *index) bool {
	return r.lacks == nil || !r.lacks[string(ix.bucket)]
}

// Counters returns every stored counter, for checks that recount.
func (r *Reader) Counters() map[string]int64 {
	out := map[string]int64{}
	r.tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
		out[string(k)] = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	return out
}

// Size is the database file's size in bytes.
func (s *Store) Size() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
