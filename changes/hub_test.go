package changes

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

func openStore(t *testing.T) *storage.Store {
	t.Helper()
	s, err := storage.Open(filepath.Join(t.TempDir(), "c.db"), storage.Options{NoSync: true, InitialMmapSize: 1 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func item(k string) storage.Key { return storage.Key{Kind: storage.KindItem, ID: "7", Item: k} }

func TestCoalescerOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		adds string // one key a letter
		want string
	}{
		{"distinct keys in order", "abc", "abc"},
		{"a repeated key moves behind the ones changed in between", "abca", "bca"},
		{"the newest key repeated stays", "abcc", "abc"},
		{"middle key", "abcbd", "acbd"},
		{"one key many times", "aaaa", "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c coalescer
			c.init()
			for i, r := range tc.adds {
				c.add(item(string(r)), uint64(i+1))
			}
			var got string
			for _, k := range c.take(nil, 100) {
				got += k.Item
			}
			assert.Equal(t, tc.want, got)
			assert.Zero(t, c.len())
		})
	}
	// Taken nodes are recycled; taking in pieces keeps the order.
	var c coalescer
	c.init()
	for i, r := range "abcdef" {
		c.add(item(string(r)), uint64(i+1))
	}
	first := c.take(nil, 2)
	c.add(item("a"), 7)
	rest := c.take(nil, 100)
	assert.Equal(t, []Change{{item("a"), 1}, {item("b"), 2}}, first)
	assert.Equal(t, []Change{{item("c"), 3}, {item("d"), 4}, {item("e"), 5}, {item("f"), 6}, {item("a"), 7}}, rest)

	// A key keeps the commit of its latest change, also when it is the
	// newest key already.
	c.add(item("x"), 9)
	c.add(item("y"), 10)
	c.add(item("x"), 11)
	c.add(item("x"), 12)
	assert.Equal(t, []Change{{item("y"), 10}, {item("x"), 12}}, c.take(nil, 100))
}

func setItem(w *storage.Writer, key string, n int) error {
	_, err := w.UpsertItem("7", key, func(old *storage.BatchOperationItem) (*storage.BatchOperationItem, error) {
		if old == nil {
			old = &storage.BatchOperationItem{BatchOperationKey: "7", ItemKey: key, OperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE"}
		}
		msg := strconv.Itoa(n)
		old.ErrorMessage = &msg
		return old, nil
	})
	return err
}

// A writer 100 times faster than the reader: the reader skips states but
// sees every record's states in increasing order and ends on each record's
// latest state; the buffer never holds more than the distinct records.
func TestSlowReaderCoalescesInOrder(t *testing.T) {
	s := openStore(t)
	h := New(s, Options{Buffer: 64})
	defer h.Close()
	sub, err := h.Subscribe(storage.KindItem, "test", Filter{})
	require.NoError(t, err)
	defer sub.Close()
	ctx := context.Background()

	const keys, commits = 20, 2000
	last := map[string]int{} // written
	seen := map[string]int{} // delivered
	order := []storage.Key{}
	read := func(max int) {
		got, err := changedKeys(sub.Changes(nil, nil, max))
		require.NoError(t, err)
		require.NoError(t, s.View(ctx, func(r *storage.Reader) error {
			for _, k := range got {
				it, err := r.Item(k.ID, k.Item)
				require.NoError(t, err)
				n, _ := strconv.Atoi(*it.ErrorMessage)
				// A record changed while it was being delivered is offered
				// again and may repeat its latest state, never an older one.
				require.GreaterOrEqual(t, n, seen[k.Item], "record %s: state %d after state %d", k.Item, n, seen[k.Item])
				seen[k.Item] = n
			}
			return nil
		}))
		order = append(order, got...)
	}
	for i := 1; i <= commits; i++ {
		key := fmt.Sprintf("k%02d", (i*7)%keys)
		require.NoError(t, s.Update(ctx, func(w *storage.Writer) error { return setItem(w, key, i) }))
		last[key] = i
		if i%100 == 0 { // one read of one record per 100 commits
			read(1)
		}
	}
	// Drain: the reader ends on every record's latest state.
	for !assert.ObjectsAreEqual(last, seen) {
		read(1000)
	}
	assert.Equal(t, last, seen)
	assert.LessOrEqual(t, len(order), commits/100+2*keys, "coalesced: far fewer deliveries than commits")
}

func TestOverflowDropsTheSubscriber(t *testing.T) {
	s := openStore(t)
	h := New(s, Options{Buffer: 10})
	defer h.Close()
	slow, err := h.Subscribe(storage.KindItem, "test", Filter{})
	require.NoError(t, err)
	other, err := h.Subscribe(storage.KindItem, "test", Filter{Want: func(k storage.Key) bool { return k.Item == "k03" }})
	require.NoError(t, err)
	for i := range 11 {
		require.NoError(t, s.Update(context.Background(), func(w *storage.Writer) error { return setItem(w, fmt.Sprintf("k%02d", i), 1) }))
	}
	keys, err := changedKeys(other.Changes(nil, nil, 10))
	require.NoError(t, err)
	assert.Equal(t, []storage.Key{item("k03")}, keys, "the other subscriber got its record")
	for {
		_, err = changedKeys(slow.Changes(nil, nil, 0)) // max 0: wait without taking
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, ErrOverflow)
	assert.Contains(t, err.Error(), "more than 10 changed records")
	slow.Close()
	other.Close()
	assert.Empty(t, h.Active())
}

func TestLimitsAndClose(t *testing.T) {
	s := openStore(t)
	h := New(s, Options{MaxSubscriptions: 2})
	a, err := h.Subscribe(storage.KindBatch, "ws", Filter{})
	require.NoError(t, err)
	_, err = h.Subscribe(storage.KindBatchOperation, "sse", Filter{})
	require.NoError(t, err)
	_, err = h.Subscribe(storage.KindItem, "ws", Filter{})
	require.ErrorIs(t, err, ErrTooMany)
	assert.Contains(t, err.Error(), "limit is 2")
	assert.Equal(t, map[string]int{"ws": 1, "sse": 1}, h.Active())
	a.Close()
	a.Close()
	assert.Equal(t, map[string]int{"sse": 1}, h.Active())

	done := make(chan error)
	b, err := h.Subscribe(storage.KindBatch, "ws", Filter{})
	require.NoError(t, err)
	go func() { _, err := changedKeys(b.Changes(nil, nil, 10)); done <- err }()
	h.Close()
	require.ErrorIs(t, <-done, ErrClosed)
	_, err = h.Subscribe(storage.KindBatch, "ws", Filter{})
	require.ErrorIs(t, err, ErrClosed)
}

// Subscribers restricted to ids get only those records' changes; an empty
// id list gets nothing.
func TestSubscribersByID(t *testing.T) {
	s := openStore(t)
	h := New(s, Options{})
	defer h.Close()
	mk := func(ids []string) *Sub {
		sub, err := h.Subscribe(storage.KindItem, "test", Filter{IDs: ids})
		require.NoError(t, err)
		t.Cleanup(sub.Close)
		return sub
	}
	seven, both, none, all := mk([]string{"7"}), mk([]string{"7", "8", "7"}), mk([]string{}), mk(nil)
	require.NoError(t, s.Update(context.Background(), func(w *storage.Writer) error {
		for _, op := range []string{"6", "7", "8"} {
			if _, err := w.UpsertItem(op, "1", func(*storage.BatchOperationItem) (*storage.BatchOperationItem, error) {
				return &storage.BatchOperationItem{BatchOperationKey: op, ItemKey: "1", OperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE"}, nil
			}); err != nil {
				return err
			}
		}
		return nil
	}))
	ops := func(sub *Sub, n int) []string {
		var got []string
		for len(got) < n {
			keys, err := changedKeys(sub.Changes(nil, nil, 10))
			require.NoError(t, err)
			for _, k := range keys {
				got = append(got, k.ID)
			}
		}
		return got
	}
	assert.Equal(t, []string{"7"}, ops(seven, 1))
	assert.Equal(t, []string{"7", "8"}, ops(both, 2))
	assert.Equal(t, []string{"6", "7", "8"}, ops(all, 3))
	none.mu.Lock()
	assert.Zero(t, none.buf.len())
	none.mu.Unlock()
	assert.Equal(t, map[string]int{"test": 4}, h.Active())
}

// Every change carries the commit of the record's latest change, and the
// hub's Seq is at least that of every change handed out.
func TestChangesCarryTheirCommit(t *testing.T) {
	s := openStore(t)
	h := New(s, Options{})
	defer h.Close()
	sub, err := h.Subscribe(storage.KindItem, "test", Filter{})
	require.NoError(t, err)
	defer sub.Close()
	take := func(n int) []Change {
		var got []Change
		for len(got) < n {
			got, err = sub.Changes(nil, got, 10)
			require.NoError(t, err)
		}
		return got
	}
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(w *storage.Writer) error { return setItem(w, "a", 1) }))
	require.NoError(t, s.Update(ctx, func(w *storage.Writer) error { return setItem(w, "b", 1) }))
	first := take(2)
	require.Equal(t, []storage.Key{item("a"), item("b")}, []storage.Key{first[0].Key, first[1].Key})
	assert.Equal(t, first[0].Seq+1, first[1].Seq, "consecutive commits")
	assert.GreaterOrEqual(t, h.Seq(), first[1].Seq)

	require.NoError(t, s.Update(ctx, func(w *storage.Writer) error { return setItem(w, "a", 2) }))
	require.NoError(t, s.Update(ctx, func(w *storage.Writer) error { return setItem(w, "c", 2) }))
	require.NoError(t, s.Update(ctx, func(w *storage.Writer) error { return setItem(w, "a", 3) }))
	for h.Seq() < first[1].Seq+3 { // fanned out (by the hub's goroutine)
		time.Sleep(time.Millisecond)
	}
	next := take(2) // a coalesced: behind c, with its latest commit
	assert.Equal(t, []Change{{item("c"), first[1].Seq + 2}, {item("a"), first[1].Seq + 3}}, next)
	assert.Equal(t, first[1].Seq+3, h.Seq())
}

// An emptied coalescer lets go of the map and nodes of a large burst, and
// keeps those of a small one for reuse.
func TestCoalescerShrinksWhenEmptied(t *testing.T) {
	var c coalescer
	c.init()
	freeNodes := func() int {
		n := 0
		for f := c.free; f != nil; f = f.next {
			n++
		}
		return n
	}
	for i := range keepNodes {
		c.add(item(strconv.Itoa(i)), uint64(i))
	}
	assert.Len(t, c.take(nil, 10), 10)
	assert.Equal(t, 10, freeNodes(), "taken nodes are recycled")
	assert.Len(t, c.take(nil, keepNodes), keepNodes-10)
	assert.Equal(t, keepNodes, freeNodes(), "a small burst's nodes are kept")

	for i := range 4096 {
		c.add(item(strconv.Itoa(i)), uint64(i))
	}
	assert.Len(t, c.take(nil, 4000), 4000)
	assert.Equal(t, 4000, freeNodes(), "not empty yet: nodes recycled")
	got := c.take(nil, 4096)
	assert.Len(t, got, 96)
	assert.Equal(t, "4095", got[95].Item, "order kept")
	assert.Zero(t, freeNodes(), "emptied after a large burst: nodes let go")
	assert.Zero(t, c.peak)
	c.add(item("x"), 1)
	assert.Equal(t, []Change{{item("x"), 1}}, c.take(nil, 10), "usable after")
}

// changedKeys returns the keys of cs, the records a Sub.Changes call took.
func changedKeys(cs []Change, err error) ([]storage.Key, error) {
	var ks []storage.Key
	for _, c := range cs {
		ks = append(ks, c.Key)
	}
	return ks, err
}

// The store collects only what subscribers follow: while only an
// operation is followed, item writes collect nothing, and a subscriber of
// items that comes later gets their changes from then on.
func TestUnfollowedRecordsAreNotCollected(t *testing.T) {
	s := openStore(t)
	h := New(s, Options{})
	defer h.Close()
	ctx := context.Background()
	ops, err := h.Subscribe(storage.KindBatchOperation, "test", Filter{IDs: []string{"7"}})
	require.NoError(t, err)
	defer ops.Close()
	write := func(keys ...string) {
		require.NoError(t, s.Update(ctx, func(w *storage.Writer) error {
			for _, k := range keys {
				if err := setItem(w, k, 1); err != nil {
					return err
				}
			}
			_, err := w.UpsertBatchOperation("7", func(o *storage.BatchOperation) (*storage.BatchOperation, error) {
				if o == nil {
					o = &storage.BatchOperation{BatchOperationKey: "7", BatchOperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE", Errors: []storage.BatchOperationError{}}
				}
				o.OperationsCompletedCount++
				return o, err
			})
			return err
		}))
	}
	assert.True(t, h.interest.Names(storage.KindBatchOperation, "7"))
	assert.False(t, h.interest.Names(storage.KindBatchOperation, "8"))
	assert.False(t, h.interest.Names(storage.KindItem, "7"), "no item followed: none collected")
	write("a", "b")
	got, err := changedKeys(ops.Changes(nil, nil, 10))
	require.NoError(t, err)
	assert.Equal(t, []storage.Key{{Kind: storage.KindBatchOperation, ID: "7"}}, got)

	items, err := h.Subscribe(storage.KindItem, "test", Filter{IDs: []string{"7"}})
	require.NoError(t, err)
	defer items.Close()
	assert.True(t, h.interest.Names(storage.KindItem, "7"))
	assert.False(t, h.interest.Names(storage.KindItem, "8"))
	write("c")
	got, err = changedKeys(items.Changes(nil, nil, 10))
	require.NoError(t, err)
	assert.Equal(t, []storage.Key{item("c")}, got, "items a and b were written before anyone followed them")
	_, err = changedKeys(ops.Changes(nil, nil, 10))
	require.NoError(t, err)

	// Items of another operation stay uncollected; the hub's Seq still
	// passes their commit once a later commit is fanned out.
	require.NoError(t, s.Update(ctx, func(w *storage.Writer) error {
		_, err := w.UpsertItem("8", "z", func(*storage.BatchOperationItem) (*storage.BatchOperationItem, error) {
			return &storage.BatchOperationItem{BatchOperationKey: "8", ItemKey: "z", OperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE"}, nil
		})
		return err
	}))
	write("d")
	got, err = changedKeys(items.Changes(nil, nil, 10))
	require.NoError(t, err)
	assert.Equal(t, []storage.Key{item("d")}, got)

	// Every item, then none once the subscribers are gone.
	all, err := h.Subscribe(storage.KindItem, "test", Filter{})
	require.NoError(t, err)
	assert.True(t, h.interest.Names(storage.KindItem, "8"))
	all.Close()
	assert.False(t, h.interest.Names(storage.KindItem, "8"))
	items.Close()
	assert.False(t, h.interest.Names(storage.KindItem, "7"))
	assert.True(t, h.interest.Names(storage.KindBatchOperation, "7"))
}

// Subscribe waits for the write transaction under way when it follows
// records nobody followed (that transaction collects nothing of them):
// every commit that completes after Subscribe returns is reported.
func TestSubscribeWaitsForTheWriterUnderWay(t *testing.T) {
	s := openStore(t)
	h := New(s, Options{})
	defer h.Close()
	ctx := context.Background()
	wrote, release, committed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(committed)
		assert.NoError(t, s.Update(ctx, func(w *storage.Writer) error {
			err := setItem(w, "x", 1)
			close(wrote)
			<-release
			return err
		}))
	}()
	<-wrote
	type result struct {
		sub *Sub
		err error
	}
	subscribed := make(chan result, 1)
	go func() {
		sub, err := h.Subscribe(storage.KindItem, "test", Filter{IDs: []string{"7"}})
		subscribed <- result{sub, err}
	}()
	// Not a timing assertion: Subscribe must not return while the writer
	// holds on, however long it waits; 50 ms lets a broken one show.
	select {
	case r := <-subscribed:
		close(release)
		<-committed
		if r.sub != nil {
			r.sub.Close()
		}
		t.Fatal("Subscribe returned while a write transaction that collected nothing ran")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	r := <-subscribed
	require.NoError(t, r.err)
	defer r.sub.Close()
	<-committed
	require.NoError(t, s.Update(ctx, func(w *storage.Writer) error { return setItem(w, "y", 1) }))
	got, err := changedKeys(r.sub.Changes(nil, nil, 10))
	require.NoError(t, err)
	assert.Equal(t, []storage.Key{item("y")}, got)
}
