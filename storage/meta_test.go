package storage

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApplied(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	s, err := Open(path, Options{NoSync: true})
	require.NoError(t, err)
	read := func(stream string) Applied {
		var a Applied
		require.NoError(t, s.View(ctx, func(r *Reader) error { a, err = r.Applied(stream); return err }))
		return a
	}
	require.Equal(t, Applied{}, read("batchql"))
	require.NoError(t, s.Update(ctx, func(w *Writer) error { return w.SetApplied("batchql", Applied{Seq: 7, Fence: 3}) }))
	require.Equal(t, Applied{Seq: 7, Fence: 3}, read("batchql"))
	require.Equal(t, Applied{}, read("other"), "streams are apart")

	err = s.Update(ctx, func(w *Writer) error { return w.SetApplied("batchql", Applied{Seq: 6}) })
	require.ErrorContains(t, err, "sequence 6 is below the stored 7")
	require.ErrorContains(t, s.Update(ctx, func(w *Writer) error { return w.SetApplied("", Applied{Seq: 1}) }), "empty stream")

	// A failed transaction stores nothing; a reopened file keeps it.
	require.Error(t, s.Update(ctx, func(w *Writer) error {
		require.NoError(t, w.SetApplied("batchql", Applied{Seq: 9}))
		return context.Canceled
	}))
	require.NoError(t, s.Close())
	s, err = Open(path, Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, Applied{Seq: 7, Fence: 3}, read("batchql"))
	require.NoError(t, s.Verify(ctx))
}
