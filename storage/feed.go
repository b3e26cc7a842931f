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
// whose encoding differs from the stored one); after the transaction has
// committed, the listener gets them as one Commit. Without a listener a
// transaction collects nothing: the feed costs one atomic load and one
// commit hook per transaction.
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

// SetCommitListener sets the function that gets every commit's changes, or
// with nil removes it. The listener runs after the commit, on the
// committing goroutine, one call at a time in commit order; it must be
// quick (hand the commit on) and must not write to the store. Commits with
// no changed record are not handed on. Transactions that began before the
// listener was set report nothing.
func (s *Store) SetCommitListener(fn func(Commit)) {
	if fn == nil {
		s.feed.listener.Store(nil)
		return
	}
	s.feed.listener.Store(&fn)
}

// feed orders commits and hands them to the listener.
type feed struct {
	listener atomic.Pointer[func(Commit)]

	mu      sync.Mutex
	next    uint64           // the Seq expected next; 0 before the first commit
	pending map[uint64][]Key // commits whose hooks ran before an earlier one's
}

func (f *feed) listening() bool { return f.listener.Load() != nil }

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
	if fn := f.listener.Load(); fn != nil {
		(*fn)(Commit{Seq: seq, Keys: keys})
	}
}

// noteChange records that the transaction changed the record of that kind
// with primary key pk, when a listener wants to know.
func (w *Writer) noteChange(kind Kind, pk []byte) {
	if w.changed == nil {
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
