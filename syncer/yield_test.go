package syncer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/storage/yieldtest"
	"github.com/batchql/batchql/syncer"
)

// The sync's writes give way to other goroutines as they go (storage.GiveWay):
// on one processor, a goroutine that is runnable while StoreApplier
// stores 5,000 records runs every 64 records, not only when the
// scheduler preempts the writer (every 10 ms, a handful of times in
// such a transaction on this machine).
func TestStoreApplierYields(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "y.db"), storage.Options{NoSync: true}) // a commit's fsync would hand out turns of its own
	require.NoError(t, err)
	defer store.Close()
	const n = 5000
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"b%05d","type":"instance-migration","totalJobs":3}`, i)
	}
	b.WriteString("]")
	resp, err := importer.DecodeResponse([]byte(b.String()), nil)
	require.NoError(t, err)
	require.Len(t, resp.Patches, n)

	var res syncer.Result
	during := yieldtest.Turns(func() {
		res, err = (&syncer.StoreApplier{Store: store, TxSize: n}).Apply(context.Background(), resp.Patches)
	})
	require.NoError(t, err)
	require.Equal(t, n, res.Written)
	// one turn a yield, but the runtime's own goroutines (the collector, the
	// sweeper) take some of them: half is far above the handful preemption gives
	require.GreaterOrEqual(t, during, int64(n/64/2), "turns the other goroutine got while %d records were stored", n)
}
