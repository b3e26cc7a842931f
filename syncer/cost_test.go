package syncer_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
	"github.com/batchql/batchql/syncer"
)

// steadyCost archives n finished operations (one item each) and n ended
// Camunda 7 batches, runs the sync past its first full reconciliation and
// returns the requests of the full pass and of a steady-state poll, per
// engine.
func steadyCost(t *testing.T, n int) (full8, poll8, full7, poll7 int) {
	e := newEnv(t, envOpts{})
	old := time.Now().Add(-24 * time.Hour)
	for i := range n {
		k := strconv.Itoa(2251799813800000 + i)
		e.c8.PutOperation(enginefake.Operation{Key: k, State: "COMPLETED", Type: "CANCEL_PROCESS_INSTANCE",
			StartDate: &old, EndDate: &old, TotalCount: 1, CompletedCount: 1})
		e.c8.PutItems(enginefake.Item{OperationType: "CANCEL_PROCESS_INSTANCE", OperationKey: k, ItemKey: strconv.Itoa(2251799814800000 + i),
			ProcessInstanceKey: strconv.Itoa(2251799814800000 + i), State: "COMPLETED", ProcessedDate: &old})
		e.c7.PutHistoricBatch(enginefake.HistoricBatch{ID: fmt.Sprintf("hist-%06d", i), Type: "instance-deletion", TotalJobs: 1,
			StartTime: &old, EndTime: &old})
	}
	// running work: two operations with 3 items, one runtime batch
	e.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 3)
	e.c8.Create("2251799813685002", "MIGRATE_PROCESS_INSTANCE", 3)
	require.NoError(t, e.c8.Progress("2251799813685002", 1, 0))
	e.c7.AddBatch(enginefake.Batch{Type: "instance-migration", TotalJobs: 10, RemainingJobs: 10})
	e.run()
	for _, eng := range []syncer.Engine{syncer.Camunda8, syncer.Camunda7} {
		eventually(t, "full pass", func() bool { return e.status(eng).LastFullAt != nil })
		st := e.status(eng)
		if eng == syncer.Camunda8 {
			full8 = st.LastFullRequests
		} else {
			full7 = st.LastFullRequests
		}
		eventually(t, "steady polls", func() bool { st := e.status(eng); return st.State == syncer.OK && !st.LastPollFull })
		time.Sleep(50 * time.Millisecond) // a few more polls
		st = e.status(eng)
		require.False(t, st.LastPollFull)
		if eng == syncer.Camunda8 {
			poll8 = st.LastPollRequests
		} else {
			poll7 = st.LastPollRequests
		}
	}
	// with n = 10,000 the items (n + 6) are over the engine's 10,000 cap on
	// totalItems: cursor paging reads them all
	d := e.query(`{ batchOperations { totalCount } batches { totalCount } batchOperationItems { totalCount } }`)
	require.EqualValues(t, n+2, d["batchOperations"].(map[string]any)["totalCount"])
	require.EqualValues(t, n+6, d["batchOperationItems"].(map[string]any)["totalCount"])
	require.EqualValues(t, n+1, d["batches"].(map[string]any)["totalCount"])
	return
}

// The steady-state poll costs requests in proportion to running work, not
// to the archive (contract §8, Cost). Measured: with 10 and with 10,000
// finished operations (and 10/10,000 ended Camunda 7 batches) a Camunda 8
// poll sends 4 requests (running operations, recent operations, the items
// of the two running operations) and a Camunda 7 poll 2 (statistics,
// recent history); only the full reconciliation grows (Camunda 8: 4 → 24,
// two of them the running operations' newest processedDate read before
// their items; Camunda 7: 2 → 12 requests at 1,000 records a page).
func TestSteadyStateCostIndependentOfArchive(t *testing.T) {
	f8s, p8s, f7s, p7s := steadyCost(t, 10)
	f8l, p8l, f7l, p7l := steadyCost(t, 10000)
	t.Logf("Camunda 8: full pass %d → %d requests, steady poll %d → %d (10 → 10,000 finished operations)", f8s, f8l, p8s, p8l)
	t.Logf("Camunda 7: full pass %d → %d requests, steady poll %d → %d (10 → 10,000 ended batches)", f7s, f7l, p7s, p7l)
	assert.Equal(t, p8s, p8l, "Camunda 8 steady poll")
	assert.Equal(t, p7s, p7l, "Camunda 7 steady poll")
	assert.Equal(t, 4, p8s)
	assert.Equal(t, 2, p7s)
	assert.Greater(t, f8l, f8s)
}
