package storage

import (
	"context"
	"errors"
	"sync"
	"testing"

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
	s.SetCommitListener(func(c Commit) { got = append(got, c) })

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

	s.SetCommitListener(nil)
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
	fn := func(c Commit) { got = append(got, c.Seq) }
	f.listener.Store(&fn)
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
	fn := func(c Commit) { got = append(got, c.Seq) }
	f.listener.Store(&fn)
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
	})
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
