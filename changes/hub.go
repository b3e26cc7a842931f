// Package changes fans the store's change feed out to subscribers: the hub
// takes each commit's changed keys (storage.SetCommitListener), and gives
// every subscriber of that record kind the keys it may want in a bounded
// buffer of its own that coalesces by record. Subscribers read their keys
// at their own pace and load the records' latest state themselves (graph's
// subscription resolvers), so a slow subscriber never slows the writer or
// the other subscribers.
//
// Guarantees, per subscriber:
//
//   - Keys come out in commit order of their latest change: a record
//     changed again before it was read moves behind the records changed
//     in between (latest state wins, so it is delivered once, after them).
//   - A record is never offered again until the subscriber has taken it, so
//     a reader that loads each taken record from a fresh snapshot never
//     sees an older state after a newer one.
//   - Memory is bounded: at most Options.Buffer distinct records wait; one
//     more and the subscriber fails with ErrOverflow (it must start over).
//
// With no subscriber the hub removes its commit listener, so the store
// collects nothing; with subscribers, it collects only the records of the
// kinds and ids they follow (storage.Interest).
//
// Each key comes with the commit of its latest change (Change.Seq), so
// that subscribers of the same records can share one read of them (a read
// from a snapshot begun after the commit shows the change; graph's
// subscriptions share their reads that way).
package changes

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/batchql/batchql/storage"
)

// Options tune a Hub. Zero values mean the defaults.
type Options struct {
	// MaxSubscriptions bounds the subscriptions of all clients together
	// (default 10,000).
	MaxSubscriptions int
	// Buffer bounds the distinct records waiting for one subscriber
	// (default 4096).
	Buffer int
}

// Defaults of Options.
const (
	DefaultMaxSubscriptions = 10_000
	DefaultBuffer           = 4096
)

// Errors of Subscribe and Sub.Changes.
var (
	// ErrTooMany: the hub has MaxSubscriptions subscriptions.
	ErrTooMany = errors.New("too many subscriptions")
	// ErrOverflow: more than Buffer distinct records waited for the
	// subscriber; it was dropped.
	ErrOverflow = errors.New("subscriber fell behind")
	// ErrClosed: the hub was closed (the server is shutting down).
	ErrClosed = errors.New("subscriptions closed: the server is shutting down")
)

// Hub is the set of subscribers of one store. It is safe for concurrent
// use.
type Hub struct {
	store *storage.Store
	opts  Options

	mu       sync.Mutex
	subs     [storage.KindItem + 1]kindSubs // by kind
	interest storage.Interest               // what subs follow: the records the store collects
	n        int
	active   map[string]int // by transport
	closed   bool

	qmu   sync.Mutex
	queue []storage.Commit // commits not yet fanned out
	wake  chan struct{}    // capacity 1: the queue has commits
	done  chan struct{}    // closed by Close
	ended chan struct{}    // closed when run returns

	events atomic.Uint64
	seq    atomic.Uint64 // the last commit fanned out
}

// Change is a changed record and the commit of its latest change that was
// offered to the subscriber (storage.Commit.Seq).
type Change struct {
	storage.Key
	Seq uint64
}

// New returns the hub of store. Close stops it.
func New(store *storage.Store, opts Options) *Hub {
	if opts.MaxSubscriptions <= 0 {
		opts.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	h := &Hub{
		store:  store,
		opts:   opts,
		active: map[string]int{},
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		ended:  make(chan struct{}),
	}
	for k := range h.subs {
		h.subs[k] = kindSubs{all: map[*Sub]struct{}{}, byID: map[string]map[*Sub]struct{}{}}
	}
	go h.run()
	return h
}

// Close ends every subscription (their Changes returns ErrClosed), refuses new
// ones and removes the commit listener. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.store.SetCommitListener(nil, nil)
	h.mu.Unlock()
	close(h.done)
	<-h.ended
}

// Active returns the open subscriptions by transport.
func (h *Hub) Active() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.active))
	for t, n := range h.active {
		out[t] = n
	}
	return out
}

// Events is the number of records delivered to subscribers so far (as
// reported by Sub.Delivered).
func (h *Hub) Events() uint64 { return h.events.Load() }

// kindSubs are the subscribers of one kind: those restricted to a few
// record ids (Key.ID: a batch id or an operation key, an item's operation)
// are found by id, so a commit costs O(changed records + interested
// subscribers) however many subscribers watch other records.
type kindSubs struct {
	all  map[*Sub]struct{}
	byID map[string]map[*Sub]struct{}
}

// Filter says which changed records a subscriber wants: with IDs, only
// records whose Key.ID is among them; with Want, only those it returns
// true for. The zero Filter wants every record of its kind. (The exact
// filter runs on the record later: these are cheap tests on keys.)
type Filter struct {
	IDs  []string
	Want func(storage.Key) bool
}

// Subscribe adds a subscriber to the changes of records of kind that f
// wants. transport labels it in Active. The subscriber must be closed.
//
// It gets the changes of every commit that completes after Subscribe
// returns: the store collects the changed records someone follows (f's
// kind, or f's IDs of it, in the hub's storage.Interest), so when f names
// records nobody followed before, Subscribe waits for the write
// transaction under way, which began without collecting them
// (Store.AwaitWrites). It must not be called inside Store.Update.
func (h *Hub) Subscribe(kind storage.Kind, transport string, f Filter) (*Sub, error) {
	if kind < storage.KindBatch || kind > storage.KindItem {
		return nil, fmt.Errorf("subscribe: unknown kind %d", kind)
	}
	s, grew, err := h.add(kind, transport, f)
	if err != nil {
		return nil, err
	}
	if grew {
		h.store.AwaitWrites()
	}
	return s, nil
}

func (h *Hub) add(kind storage.Kind, transport string, f Filter) (*Sub, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, ErrClosed
	}
	if h.n >= h.opts.MaxSubscriptions {
		return nil, false, fmt.Errorf("%w: the server's limit is %d", ErrTooMany, h.opts.MaxSubscriptions)
	}
	s := &Sub{h: h, kind: kind, transport: transport, ids: f.IDs, want: f.Want, ready: make(chan struct{}, 1)}
	s.buf.init()
	ks := h.subs[kind]
	if f.IDs == nil {
		ks.all[s] = struct{}{}
	}
	for _, id := range f.IDs {
		if ks.byID[id] == nil {
			ks.byID[id] = map[*Sub]struct{}{}
		}
		ks.byID[id][s] = struct{}{}
	}
	grew := h.interest.Add(kind, f.IDs)
	h.n++
	h.active[transport]++
	if h.n == 1 {
		h.store.SetCommitListener(h.publish, &h.interest)
		grew = true // transactions under way collect nothing
	}
	return s, grew, nil
}

func (h *Hub) remove(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.removed {
		return
	}
	s.removed = true
	ks := h.subs[s.kind]
	delete(ks.all, s)
	for _, id := range s.ids {
		if delete(ks.byID[id], s); len(ks.byID[id]) == 0 {
			delete(ks.byID, id)
		}
	}
	h.interest.Remove(s.kind, s.ids)
	h.n--
	if h.active[s.transport]--; h.active[s.transport] == 0 {
		delete(h.active, s.transport)
	}
	if h.n == 0 && !h.closed {
		h.store.SetCommitListener(nil, nil)
	}
}

// publish is the commit listener: it queues the commit for run and
// returns, so the writer never waits for subscribers.
func (h *Hub) publish(c storage.Commit) {
	h.qmu.Lock()
	h.queue = append(h.queue, c)
	h.qmu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// run fans queued commits out to the subscribers, in commit order.
func (h *Hub) run() {
	defer close(h.ended)
	var batch []storage.Commit
	for {
		select {
		case <-h.done:
			h.mu.Lock()
			for _, ks := range h.subs {
				for s := range ks.all {
					s.fail(ErrClosed)
				}
				for _, subs := range ks.byID {
					for s := range subs {
						s.fail(ErrClosed)
					}
				}
			}
			h.mu.Unlock()
			return
		case <-h.wake:
		}
		h.qmu.Lock()
		batch, h.queue = h.queue, batch[:0]
		h.qmu.Unlock()
		for _, c := range batch {
			h.fanOut(c)
		}
		clear(batch) // let the keys go
	}
}

func (h *Hub) fanOut(c storage.Commit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.seq.Store(c.Seq) // offered to everyone
	var kinds [storage.KindItem + 1]bool
	for i, k := range c.Keys {
		kinds[k.Kind] = true
		for s := range h.subs[k.Kind].byID[k.ID] {
			s.offer(c.Seq, c.Keys[i:i+1])
		}
	}
	for kind, ks := range h.subs {
		if !kinds[kind] {
			continue
		}
		for s := range ks.all {
			s.offer(c.Seq, c.Keys)
		}
	}
}

// Seq is the last commit whose keys the hub has offered to every
// subscriber (0 before the first). Its commit, like that of every Change
// taken from a Sub, had completed before: a snapshot begun after Seq
// returned s, or after a Change of Seq s was taken, shows every change up
// to s.
func (h *Hub) Seq() uint64 { return h.seq.Load() }

// Sub is one subscriber. Changes and Close may be called from another
// goroutine than the one that subscribed; Changes from one goroutine at a
// time.
type Sub struct {
	h         *Hub
	kind      storage.Kind
	transport string
	ids       []string
	want      func(storage.Key) bool
	removed   bool // guarded by h.mu

	mu    sync.Mutex
	buf   coalescer
	err   error
	ready chan struct{} // capacity 1: buf has keys or err is set
}

// offer adds the keys of commit seq that s wants to its buffer, or fails s
// when that would hold more than the hub's Buffer records.
func (s *Sub) offer(seq uint64, keys []storage.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	added := false
	for _, k := range keys {
		if k.Kind != s.kind || s.want != nil && !s.want(k) {
			continue
		}
		s.buf.add(k, seq)
		added = true
		if s.buf.len() > s.h.opts.Buffer {
			s.failLocked(fmt.Errorf("%w: more than %d changed records waited for it", ErrOverflow, s.h.opts.Buffer))
			return
		}
	}
	if added {
		s.signal()
	}
}

func (s *Sub) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.failLocked(err)
	}
}

func (s *Sub) failLocked(err error) {
	s.err = err
	s.buf.init() // its memory goes at once
	s.signal()
}

func (s *Sub) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Changes appends to dst up to max changed records, oldest first, each
// with the commit of its latest change, waiting until there is one or done
// is closed (then it returns dst as given, nil). After an error
// (ErrOverflow, ErrClosed) s is finished.
func (s *Sub) Changes(done <-chan struct{}, dst []Change, max int) ([]Change, error) {
	for {
		s.mu.Lock()
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return dst, err
		}
		if s.buf.len() > 0 {
			dst = s.buf.take(dst, max)
			s.mu.Unlock()
			return dst, nil
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-done:
			return dst, nil
		}
	}
}

// Delivered counts n records sent to the client, for Hub.Events.
func (s *Sub) Delivered(n int) {
	s.h.events.Add(uint64(n))
}

// Close removes s from the hub. It is idempotent.
func (s *Sub) Close() {
	s.h.remove(s)
	s.fail(ErrClosed)
}

// Done is closed when the hub is closed.
func (h *Hub) Done() <-chan struct{} { return h.done }
