package storage

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func upsertOpen(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "u.db"), Options{NoSync: true, InitialMmapSize: 1 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// pagesWritten is how many pages bbolt wrote for the transactions so far.
func pagesWritten(s *Store) int64 {
	st := s.DB().Stats()
	return st.TxStats.GetWrite()
}

func TestUpsertOutcomes(t *testing.T) {
	s := upsertOpen(t)
	ctx := context.Background()
	op := func(state OperationState) func(*BatchOperation) (*BatchOperation, error) {
		return func(old *BatchOperation) (*BatchOperation, error) {
			if old == nil {
				old = &BatchOperation{BatchOperationKey: "7", BatchOperationType: "CANCEL_PROCESS_INSTANCE", Errors: []BatchOperationError{}}
			}
			old.State = state
			return old, nil
		}
	}
	item := func(state ItemState) func(*BatchOperationItem) (*BatchOperationItem, error) {
		return func(old *BatchOperationItem) (*BatchOperationItem, error) {
			if old == nil {
				old = &BatchOperationItem{BatchOperationKey: "7", ItemKey: "9", OperationType: "CANCEL_PROCESS_INSTANCE"}
			}
			old.State = state
			return old, nil
		}
	}
	batch := func(total int) func(*Batch) (*Batch, error) {
		return func(old *Batch) (*Batch, error) {
			if old == nil {
				old = &Batch{BatchID: "b1", Type: "t"}
			}
			old.TotalJobs = total
			return old, nil
		}
	}
	run := func(fn func(w *Writer) (Outcome, error)) Outcome {
		var o Outcome
		require.NoError(t, s.Update(ctx, func(w *Writer) error {
			var err error
			o, err = fn(w)
			return err
		}))
		return o
	}
	steps := []struct {
		name string
		fn   func(w *Writer) (Outcome, error)
		want Outcome
	}{
		{"new op", func(w *Writer) (Outcome, error) { return w.UpsertBatchOperation("7", op("ACTIVE")) }, New},
		{"same op", func(w *Writer) (Outcome, error) { return w.UpsertBatchOperation("7", op("ACTIVE")) }, Unchanged},
		{"op state", func(w *Writer) (Outcome, error) { return w.UpsertBatchOperation("7", op("COMPLETED")) }, Updated},
		{"new item", func(w *Writer) (Outcome, error) { return w.UpsertItem("7", "9", item("ACTIVE")) }, New},
		{"same item", func(w *Writer) (Outcome, error) { return w.UpsertItem("7", "9", item("ACTIVE")) }, Unchanged},
		{"item state", func(w *Writer) (Outcome, error) { return w.UpsertItem("7", "9", item("FAILED")) }, Updated},
		{"new batch", func(w *Writer) (Outcome, error) { return w.UpsertBatch("b1", batch(3)) }, New},
		{"same batch", func(w *Writer) (Outcome, error) { return w.UpsertBatch("b1", batch(3)) }, Unchanged},
		{"batch total", func(w *Writer) (Outcome, error) { return w.UpsertBatch("b1", batch(4)) }, Updated},
	}
	// an empty write transaction still writes its meta (and freelist) pages
	before := pagesWritten(s)
	require.NoError(t, s.Update(ctx, func(*Writer) error { return nil }))
	empty := pagesWritten(s) - before
	for _, st := range steps {
		before := pagesWritten(s)
		got := run(st.fn)
		assert.Equal(t, st.want, got, st.name)
		assert.Equal(t, st.want.Changed(), got.Changed(), st.name)
		if st.want == Unchanged {
			assert.Equal(t, empty, pagesWritten(s)-before, "%s: an unchanged upsert wrote", st.name)
		} else {
			assert.Greater(t, pagesWritten(s)-before, empty, st.name)
		}
	}
	require.NoError(t, s.Verify(ctx))
	require.NoError(t, s.View(ctx, func(r *Reader) error {
		c := r.Counters()
		assert.Equal(t, int64(1), c["b"])
		assert.Equal(t, int64(1), c["o"])
		assert.Equal(t, int64(1), c["i"])
		o, err := r.BatchOperation("7")
		require.NoError(t, err)
		assert.Equal(t, OperationState("COMPLETED"), o.State)
		it, err := r.Item("7", "9")
		require.NoError(t, err)
		assert.Equal(t, ItemState("FAILED"), it.State)
		assert.True(t, r.HasBatch("b1"))
		assert.True(t, r.HasBatchOperation("7"))
		assert.True(t, r.HasItem("7", "9"))
		assert.False(t, r.HasBatch("b2"))
		assert.False(t, r.HasBatchOperation("8"))
		assert.False(t, r.HasItem("7", "10"))
		var n int
		require.NoError(t, r.EachItem(func(it *BatchOperationItem) error { n++; return nil }))
		assert.Equal(t, 1, n)
		return nil
	}))
	assert.Equal(t, "unchanged", Unchanged.String())
	assert.Equal(t, "new", New.String())
	assert.Equal(t, "updated", Updated.String())
}

func TestUpsertRejects(t *testing.T) {
	s := upsertOpen(t)
	ctx := context.Background()
	boom := errors.New("boom")
	cases := []struct {
		name  string
		merge func(*Batch) (*Batch, error)
		want  string
	}{
		{"merge error", func(*Batch) (*Batch, error) { return nil, boom }, "boom"},
		{"no record", func(*Batch) (*Batch, error) { return nil, nil }, "merge returned no record"},
		{"other key", func(*Batch) (*Batch, error) { return &Batch{BatchID: "b2", Type: "t"}, nil }, "merge changed the key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.Update(ctx, func(w *Writer) error {
				o, err := w.UpsertBatch("b1", c.merge)
				assert.Equal(t, Unchanged, o)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			require.NoError(t, s.View(ctx, func(r *Reader) error {
				assert.False(t, r.HasBatch("b1"))
				assert.False(t, r.HasBatch("b2"))
				assert.Empty(t, r.Counters())
				return nil
			}))
		})
	}
}

func TestCompareKeys(t *testing.T) {
	keys := []string{"-1", "0", "7", "007", "10", "2251799813685249", "3f0c8a52", "a", "b"}
	for i := 1; i < len(keys); i++ {
		assert.Equal(t, -1, CompareKeys(keys[i-1], keys[i]), "%s < %s", keys[i-1], keys[i])
		assert.Equal(t, 1, CompareKeys(keys[i], keys[i-1]))
	}
	assert.Equal(t, 0, CompareKeys("7", "7"))
}

// TestUpsertCounterNames: the interned counter names of upserts are the
// ones recordCounters lists (Verify recounts by those), for every kind.
func TestUpsertCounterNames(t *testing.T) {
	d := randomData(13, 40, 20, 300)
	var u upsertState
	check := func(t *testing.T, got func(set []string) string, want []string, sets [][]string) {
		t.Helper()
		for i, set := range sets {
			assert.Equal(t, want[i], got(set), "counter of %v", set)
		}
	}
	for _, b := range d.batches {
		check(t, func(set []string) string { return counterOf(&u, batchKind, set, b) }, recordCounters(batchKind, b), batchKind.counterSets)
	}
	for _, o := range d.ops {
		check(t, func(set []string) string { return counterOf(&u, operationKind, set, o) }, recordCounters(operationKind, o), operationKind.counterSets)
	}
	for _, it := range d.items {
		check(t, func(set []string) string { return counterOf(&u, itemKind, set, it) }, recordCounters(itemKind, it), itemKind.counterSets)
	}
	assert.NotEmpty(t, u.names, "names are interned")
}
