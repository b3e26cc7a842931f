package storage

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func setOp(key string, state OperationState) func(*BatchOperation) (*BatchOperation, error) {
	return func(old *BatchOperation) (*BatchOperation, error) {
		if old == nil {
			old = &BatchOperation{BatchOperationKey: key, BatchOperationType: "CANCEL_PROCESS_INSTANCE", Errors: []BatchOperationError{}}
		}
		old.State = state
		return old, nil
	}
}

func setItem(op, key string, state ItemState) func(*BatchOperationItem) (*BatchOperationItem, error) {
	return func(old *BatchOperationItem) (*BatchOperationItem, error) {
		if old == nil {
			old = &BatchOperationItem{BatchOperationKey: op, ItemKey: key, OperationType: "CANCEL_PROCESS_INSTANCE"}
		}
		old.State = state
		return old, nil
	}
}

func TestFeedReportsChangedRecordsInCommitOrder(t *testing.T) {
	s := upsertOpen(t)
	ctx := context.Background()
	var got []Commit
	s.SetCommitListener(func(c Commit) { got = append(got, c) }, nil)

	require.NoError(t, s.Update(ctx, func(w *Writer) error {
		_, err := w.UpsertBatchOperation("7", setOp("7", "ACTIVE"))
		require.NoError(t, err)
		_, err = w.UpsertItem("7", "uuid-x", setItem("7", "uuid-x", "ACTIVE"))
		require.NoError(t, err)
		_, err = w.PutBatch(&Batch{BatchID: "b1", Type: "t"})
		return err
	}))
	// Unchanged upserts, a rolled-back transaction and an identical Put
	// report nothing.
	require.NoError(t, s.Update(ctx, func(w *Writer) error {
		_, err := w.UpsertBatchOperation("7", setOp("7", "ACTIVE"))
		require.NoError(t, err)
		_, err = w.PutBatch(&Batch{BatchID: "b1", Type: "t"})
		return err
	}))
	boom := errors.New("boom")
	require.ErrorIs(t, s.Update(ctx, func(w *Writer) error {
		_, err := w.UpsertBatchOperation("7", setOp("7", "COMPLETED"))
		require.NoError(t, err)
		return boom
	}), boom)
	require.NoError(t, s.Update(ctx, func(w *Writer) error {
		_, err := w.UpsertItem("7", "uuid-x", setItem("7", "uuid-x", "COMPLETED"))
		return err
	}))

	require.Len(t, got, 2)
	assert.Equal(t, []Key{{Kind: KindBatchOperation, ID: "7"}, {Kind: KindItem, ID: "7", Item: "uuid-x"}, {Kind: KindBatch, ID: "b1"}}, got[0].Keys)
	assert.Equal(t, []Key{{Kind: KindItem, ID: "7", Item: "uuid-x"}}, got[1].Keys)
	assert.Equal(t, got[0].Seq+2, got[1].Seq, "the unchanged commit has a Seq of its own; the rolled-back one none")

	s.SetCommitListener(nil, nil)
	require.NoError(t, s.Update(ctx, func(w *Writer) error {
		_, err := w.UpsertItem("7", "uuid-x", setItem("7", "uuid-x", "FAILED"))
		assert.Nil(t, w.changed, "nothing is collected without a listener")
		return err
	}))
	assert.Len(t, got, 2)
}

// Commit hooks may run out of order; the feed hands commits on in Seq
// order, one call at a time.
func TestFeedReordersCommitHooks(t *testing.T) {
	var f feed
	var got []uint64
	f.listener.Store(&listener{fn: func(c Commit) { got = append(got, c.Seq) }})
	k := []Key{{Kind: KindBatch, ID: "1"}}
	f.start(10)
	f.committed(10, k)
	f.committed(12, k)
	f.committed(13, nil) // no changes: not handed on, but not a gap either
	f.committed(11, k)
	f.committed(14, k)
	assert.Equal(t, []uint64{10, 11, 12, 14}, got)
	assert.Empty(t, f.pending)
}

// The sequence starts at the first transaction tracked, not at the first
// hook to run: when the second commit's hook runs first, it waits for the
// first, and later commits still flow.
func TestFeedStartsAtFirstTrackedCommit(t *testing.T) {
	var f feed
	var got []uint64
	f.listener.Store(&listener{fn: func(c Commit) { got = append(got, c.Seq) }})
	k := []Key{{Kind: KindBatch, ID: "1"}}
	f.start(3)
	f.start(4) // already started: ignored
	f.committed(4, k)
	assert.Empty(t, got, "commit 4 waits for commit 3")
	f.committed(3, k)
	f.committed(5, k)
	assert.Equal(t, []uint64{3, 4, 5}, got)
	assert.Empty(t, f.pending)
}

func TestFeedConcurrentWritersKeepOrder(t *testing.T) {
	s := upsertOpen(t)
	ctx := context.Background()
	var mu sync.Mutex
	var seqs []uint64
	last := map[string]ItemState{}
	s.SetCommitListener(func(c Commit) {
		mu.Lock()
		defer mu.Unlock()
		seqs = append(seqs, c.Seq)
		for _, k := range c.Keys {
			last[k.Item] = "seen"
		}
	}, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				state := ItemState("ACTIVE")
				if i%2 == 1 {
					state = "COMPLETED"
				}
				key := string(rune('a' + g))
				assert.NoError(t, s.Update(ctx, func(w *Writer) error {
					_, err := w.UpsertItem("7", key, setItem("7", key, state))
					return err
				}))
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seqs, 100)
	for i := 1; i < len(seqs); i++ {
		assert.Equal(t, seqs[i-1]+1, seqs[i])
	}
	assert.Len(t, last, 4)
}

func TestMatchersUseQuerySemantics(t *testing.T) {
	pi := "12"
	it := &BatchOperationItem{BatchOperationKey: "7", ItemKey: "9", State: "FAILED", ProcessInstanceKey: &pi}
	for _, tc := range []struct {
		name string
		f    *BatchOperationItemFilter
		want bool
	}{
		{"nil", nil, true},
		{"key eq", &BatchOperationItemFilter{BatchOperationKey: &StringFilter{Eq: ptrTo("7")}}, true},
		{"key eq other", &BatchOperationItemFilter{BatchOperationKey: &StringFilter{Eq: ptrTo("8")}}, false},
		{"state in", &BatchOperationItemFilter{State: &ItemStateFilter{In: []ItemState{"FAILED", "SKIPPED"}}}, true},
		{"root neq never matches null", &BatchOperationItemFilter{RootProcessInstanceKey: &StringFilter{Neq: ptrTo("1")}}, false},
		{"like", &BatchOperationItemFilter{ProcessInstanceKey: &StringFilter{Like: ptrTo("1?")}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := MatchItem(tc.f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, m(it))
		})
	}
	_, err := MatchBatch(&BatchFilter{Type: &StringFilter{Like: ptrTo(`x\`)}})
	require.True(t, IsInputError(err))
	assert.Contains(t, err.Error(), "filter.type.like")
}

// The feed collects only the records its Interest names: writes of
// records nobody follows collect nothing, and records named later are
// collected from then on.
func TestFeedCollectsWhatItsInterestNames(t *testing.T) {
	s := upsertOpen(t)
	ctx := context.Background()
	var in Interest
	var got [][]Key
	s.SetCommitListener(func(c Commit) { got = append(got, c.Keys) }, &in)
	// write changes operations 7 and 8, an item of each and a batch, and
	// returns the keys the transaction collected.
	round := 0
	write := func() []Key {
		round++
		state := []ItemState{"ACTIVE", "COMPLETED"}[round%2]
		var collected []Key
		require.NoError(t, s.Update(ctx, func(w *Writer) error {
			for _, op := range []string{"7", "8"} {
				if _, err := w.UpsertBatchOperation(op, setOp(op, OperationState(state))); err != nil {
					return err
				}
				if _, err := w.UpsertItem(op, "x", setItem(op, "x", state)); err != nil {
					return err
				}
			}
			if _, err := w.PutBatch(&Batch{BatchID: "b1", Type: string(state)}); err != nil {
				return err
			}
			collected = append(collected, *w.changed...)
			return nil
		}))
		return collected
	}
	op := func(id string) Key { return Key{Kind: KindBatchOperation, ID: id} }
	it := func(id string) Key { return Key{Kind: KindItem, ID: id, Item: "x"} }
	b1 := Key{Kind: KindBatch, ID: "b1"}

	assert.Empty(t, write(), "an empty Interest: nothing collected")
	assert.Empty(t, got, "and no commit handed on")

	for _, tc := range []struct {
		name string
		add  func() bool
		grew bool
		want []Key
	}{
		{"one operation: its changes only, none of its items", func() bool { return in.Add(KindBatchOperation, []string{"7"}) }, true, []Key{op("7")}},
		{"the same operation again: nothing new", func() bool { return in.Add(KindBatchOperation, []string{"7"}) }, false, []Key{op("7")}},
		{"an empty id list names nothing", func() bool { return in.Add(KindItem, []string{}) }, false, []Key{op("7")}},
		{"the items of operation 8", func() bool { return in.Add(KindItem, []string{"8"}) }, true, []Key{op("7"), it("8")}},
		{"every batch", func() bool { return in.Add(KindBatch, nil) }, true, []Key{op("7"), it("8"), b1}},
		{"every item", func() bool { return in.Add(KindItem, nil) }, true, []Key{op("7"), it("7"), it("8"), b1}},
		{"items of 7 under every item: nothing new", func() bool { return in.Add(KindItem, []string{"7"}) }, false, []Key{op("7"), it("7"), it("8"), b1}},
	} {
		assert.Equal(t, tc.grew, tc.add(), tc.name)
		assert.Equal(t, tc.want, write(), tc.name)
		require.NotEmpty(t, got, tc.name)
		assert.Equal(t, tc.want, got[len(got)-1], tc.name+": handed on")
	}

	in.Remove(KindItem, []string{"7"})
	in.Remove(KindItem, nil)
	in.Remove(KindBatch, nil)
	assert.Equal(t, []Key{op("7"), it("8")}, write(), "removed: collected no more")
	in.Remove(KindItem, []string{"8"})
	in.Remove(KindBatchOperation, []string{"7"})
	assert.Equal(t, []Key{op("7")}, write(), "7 was added twice")
	in.Remove(KindBatchOperation, []string{"7"})
	n := len(got)
	assert.Empty(t, write())
	assert.Len(t, got, n, "nothing handed on")
}

// AwaitWrites waits for the write transaction under way: a record named
// while it runs, after it changed that record, is reported by every
// commit that completes after AwaitWrites returns.
func TestAwaitWritesWaitsForTheWriter(t *testing.T) {
	s := upsertOpen(t)
	ctx := context.Background()
	var in Interest
	var mu sync.Mutex
	var got []Key
	s.SetCommitListener(func(c Commit) { mu.Lock(); got = append(got, c.Keys...); mu.Unlock() }, &in)

	wrote, release, committed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(committed)
		assert.NoError(t, s.Update(ctx, func(w *Writer) error {
			_, err := w.UpsertItem("7", "x", setItem("7", "x", "ACTIVE"))
			close(wrote)
			<-release
			return err
		}))
	}()
	<-wrote
	in.Add(KindItem, []string{"7"})
	awaited := make(chan struct{})
	go func() {
		defer close(awaited)
		s.AwaitWrites()
	}()
	// Not a timing assertion: AwaitWrites must not return while the
	// writer holds on, however long it waits; 50 ms lets a broken one show.
	select {
	case <-awaited:
		close(release)
		<-committed
		t.Fatal("AwaitWrites returned while a write transaction ran")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-awaited
	<-committed
	require.NoError(t, s.Update(ctx, func(w *Writer) error {
		_, err := w.UpsertItem("7", "x", setItem("7", "x", "COMPLETED"))
		return err
	}))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []Key{{Kind: KindItem, ID: "7", Item: "x"}}, got,
		"the transaction under way changed the item before it was named: only the next one reports it")
}

// BenchmarkFeedItemWrites: new items in key order, 10,000 a transaction
// (as an import writes them), with no commit listener, with one following
// every item (what any subscriber used to cost), and with one following
// another operation and its items (the Interest collects nothing).
func BenchmarkFeedItemWrites(b *testing.B) {
	other := func() *Interest {
		var in Interest
		in.Add(KindBatchOperation, []string{"2251799813685002"})
		in.Add(KindItem, []string{"2251799813685002"})
		return &in
	}
	for _, tc := range []struct {
		name   string
		listen bool
		in     *Interest
	}{
		{"no-listener", false, nil},
		{"every-record", true, nil},
		{"other-operation", true, other()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := openTemp(b)
			ctx := context.Background()
			keys := 0
			if tc.listen {
				s.SetCommitListener(func(c Commit) { keys += len(c.Keys) }, tc.in)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i += 10_000 {
				require.NoError(b, s.Update(ctx, func(w *Writer) error {
					for j := i; j < min(i+10_000, b.N); j++ {
						pi := strconv.Itoa(4503599627370496 + j)
						if _, err := w.PutItem(&BatchOperationItem{BatchOperationKey: "2251799813685001", ItemKey: pi,
							OperationType: "CANCEL_PROCESS_INSTANCE", ProcessInstanceKey: &pi, State: "COMPLETED"}); err != nil {
							return err
						}
					}
					return nil
				}))
			}
			b.ReportMetric(float64(keys)/float64(b.N), "keys/record")
		})
	}
}
