package storage

import (
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// The change feed: which records each commit changed, in commit order.
//
// While a commit listener is set (SetCommitListener), every write
// transaction of Store.Update collects the natural keys of the records
// whose stored value it changed (an upsert that is New or Updated, a Put
// whose encoding differs from the stored one) and that the listener's
// Interest names; after the transaction has committed, the listener gets
// them as one Commit. Without a listener a transaction collects nothing:
// the feed costs one atomic load and one commit hook per transaction.
//
// The Interest keeps writes of records nobody follows cheap: every item's
// key used to be collected while anyone subscribed, although subscribers
// of operations or of other operations' items never want them (2 of an
// item write's 71 allocations, 216 of its 5,979 B: BenchmarkFeedItemWrites;
// an import beside one idle subscriber took ~8% more CPU time, medians of
// 8 rounds in process). With an Interest a changed record costs a lookup
// of its id (for items, their operation's key) unless someone follows its
// kind or its id.
//
// Order: bbolt runs commit hooks after it has released the writer lock, so
// the hooks of two commits may run in either order. The feed orders them
// by the transaction id, which bbolt increments by one for every committed
// write transaction (a rolled-back one leaves no trace), and hands commits
// on one at a time, without gaps, in that order: a listener sees commit n
// before commit n+1, and no two calls overlap. Every write goes through
// Store.Update, so every committed id is reported.

// Kind is the record type of a change.
type Kind uint8

// The record kinds of the feed.
const (
	KindBatch Kind = iota + 1
	KindBatchOperation
	KindItem
)

func (k Kind) String() string {
	switch k {
	case KindBatch:
		return "Batch"
	case KindBatchOperation:
		return "BatchOperation"
	case KindItem:
		return "BatchOperationItem"
	}
	return "Kind(?)"
}

// Key names one changed record: ID is the batch id or the batch operation
// key (for items, their operation's key) and Item the item key (items
// only).
type Key struct {
	Kind Kind
	ID   string
	Item string
}

// Commit is what one committed write transaction changed. Seq is bbolt's
// transaction id: consecutive commits have consecutive Seqs. Keys are in
// the order the transaction changed the records; a record changed twice
// in one transaction is listed twice.
type Commit struct {
	Seq  uint64
	Keys []Key
}

// SetCommitListener sets the function that gets every commit's changes to
// the records in (nil: every record), or with a nil fn removes it. The
// listener runs after the commit, on the committing goroutine, one call at
// a time in commit order; it must be quick (hand the commit on) and must
// not write to the store. Commits with no changed record that in names are
// not handed on (their Seq is skipped). Transactions that began before the
// listener was set report nothing (AwaitWrites waits for them).
func (s *Store) SetCommitListener(fn func(Commit), in *Interest) {
	if fn == nil {
		s.feed.listener.Store(nil)
		return
	}
	s.feed.listener.Store(&listener{fn: fn, in: in})
}

// AwaitWrites returns once every write transaction that had begun when it
// was called has ended (it takes bbolt's writer lock for a moment): every
// transaction that commits after it returns began after it was called, so
// it collects what the commit listener and its Interest named by then. It
// must not be called inside Update (the writer lock is not reentrant).
func (s *Store) AwaitWrites() {
	tx, err := s.db.Begin(true)
	if err != nil {
		return // closed or read-only: no writer to wait for
	}
	_ = tx.Rollback() // leaves no trace: the next transaction gets its id
}

type listener struct {
	fn func(Commit)
	in *Interest
}

// Interest names the changed records a commit listener gets: every record
// of some kinds, and the records of some ids (Key.ID: a batch id, an
// operation key, an item's operation key) of others. The zero Interest
// names none. It is safe for concurrent use: changes apply to write
// transactions from then on, and to those that began before once
// AwaitWrites has returned.
type Interest struct {
	mu  sync.RWMutex
	all [KindItem + 1]int            // followers of every record of a kind
	ids [KindItem + 1]map[string]int // followers by encoded id (appendKey)
}

// Add names, for one more follower, the records of kind whose Key.ID is
// among ids, or with nil ids every record of kind (an empty, non-nil ids
// names none). It reports whether that named records not named before.
func (in *Interest) Add(kind Kind, ids []string) bool {
	return in.count(kind, ids, 1)
}

// Remove undoes one Add with the same arguments.
func (in *Interest) Remove(kind Kind, ids []string) {
	in.count(kind, ids, -1)
}

func (in *Interest) count(kind Kind, ids []string, d int) (grew bool) {
	if kind < KindBatch || kind > KindItem {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if ids == nil {
		in.all[kind] += d
		return d > 0 && in.all[kind] == 1
	}
	if in.ids[kind] == nil {
		in.ids[kind] = map[string]int{}
	}
	m := in.ids[kind]
	for _, id := range ids {
		k := string(appendKey(nil, id))
		if m[k] += d; m[k] <= 0 {
			delete(m, k)
		} else if d > 0 && m[k] == 1 {
			grew = true
		}
	}
	return grew && in.all[kind] == 0
}

// Names reports whether in names the records of kind whose Key.ID is id.
func (in *Interest) Names(kind Kind, id string) bool {
	if kind < KindBatch || kind > KindItem {
		return false
	}
	return in.names(kind, appendKey(nil, id))
}

// names reports whether in names the record of kind with primary key pk
// (its first component is Key.ID). A nil Interest names every record.
func (in *Interest) names(kind Kind, pk []byte) bool {
	if in == nil {
		return true
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.all[kind] > 0 {
		return true
	}
	if len(in.ids[kind]) == 0 {
		return false
	}
	n, err := skipComponent(pk)
	if err != nil {
		return true // cannot happen: the key was just encoded by appendKey
	}
	return in.ids[kind][string(pk[:n])] > 0 // no allocation: a map index
}

// feed orders commits and hands them to the listener.
type feed struct {
	listener atomic.Pointer[listener]

	mu      sync.Mutex
	next    uint64           // the Seq expected next; 0 before the first commit
	pending map[uint64][]Key // commits whose hooks ran before an earlier one's
}

// track registers tx's commit hook: every committed write transaction
// reports its id, changes or not, so the sequence has no gaps. track runs
// inside the transaction, under bbolt's writer lock, so its calls come in
// id order even though the hooks may not: the first id tracked is where
// the sequence starts. (Starting at the first hook to run instead lost the
// feed: with four writers, hook 4 ran before hook 3, the feed delivered
// 4-7, then 3, then waited for 4 again, for good.)
func (f *feed) track(tx *bolt.Tx, changed *[]Key) {
	seq := uint64(tx.ID())
	f.start(seq)
	tx.OnCommit(func() {
		var keys []Key
		if changed != nil {
			keys = *changed
		}
		f.committed(seq, keys)
	})
}

// start makes seq the first Seq expected, unless one is already.
func (f *feed) start(seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next == 0 {
		f.next = seq
	}
}

// committed delivers commit seq and every pending one that follows it, in
// order, holding mu so that calls never overlap or reorder.
func (f *feed) committed(seq uint64, keys []Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq < f.next {
		// Cannot happen with every write through Update (track starts
		// the sequence at the lowest id); not held back if it does.
		f.deliver(seq, keys)
		return
	}
	if seq != f.next {
		if f.pending == nil {
			f.pending = map[uint64][]Key{}
		}
		f.pending[seq] = keys
		return
	}
	f.deliver(seq, keys)
	f.next++
	for len(f.pending) > 0 {
		keys, ok := f.pending[f.next]
		if !ok {
			break
		}
		delete(f.pending, f.next)
		f.deliver(f.next, keys)
		f.next++
	}
}

func (f *feed) deliver(seq uint64, keys []Key) {
	if len(keys) == 0 {
		return
	}
	if l := f.listener.Load(); l != nil {
		l.fn(Commit{Seq: seq, Keys: keys})
	}
}

// noteChange records that the transaction changed the record of that kind
// with primary key pk, when a listener wants to know.
func (w *Writer) noteChange(kind Kind, pk []byte) {
	if w.changed == nil || !w.interest.names(kind, pk) {
		return
	}
	key := Key{Kind: kind}
	id, rest, err := readKey(pk)
	if err != nil {
		return // the key was just encoded by appendKey
	}
	key.ID = id
	if kind == KindItem {
		if key.Item, _, err = readKey(rest); err != nil {
			return
		}
	}
	*w.changed = append(*w.changed, key)
}
