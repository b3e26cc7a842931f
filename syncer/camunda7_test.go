package syncer_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
	"github.com/batchql/batchql/syncer"
)

// batchState is a batch as GraphQL serves it.
func (e *env) batch(id string) map[string]any {
	d := e.query(`{ batch(batchId: "` + id + `") { batchId type totalJobs jobsCreated suspended completed endTime removalTime
		statistics { remainingJobs completedJobs failedJobs } } }`)
	b, _ := d["batch"].(map[string]any)
	return b
}

// A Camunda 7 batch is served as it runs (statistics every poll), and when
// it leaves the runtime it gets its endTime and removalTime from history;
// its last statistics stay, final. A batch that started and ended between
// two polls lands too.
func TestCamunda7RuntimeToHistory(t *testing.T) {
	e := newEnv(t, envOpts{no8: true})
	b := e.c7.AddBatch(enginefake.Batch{Type: "instance-migration", TotalJobs: 250, RemainingJobs: 250})
	e.run()
	eventually(t, "the running batch", func() bool {
		g := e.batch(b.ID)
		return g != nil && g["completed"] == false
	})
	require.NoError(t, e.c7.SetStatistics(b.ID, 200, 130, 3))
	eventually(t, "new statistics", func() bool {
		st, _ := e.batch(b.ID)["statistics"].(map[string]any)
		return st != nil && st["remainingJobs"] == float64(130) && st["failedJobs"] == float64(3) && st["completedJobs"] == float64(120)
	})
	require.NoError(t, e.c7.UpdateBatch(b.ID, func(b *enginefake.Batch) { b.Suspended = true }))
	eventually(t, "suspended", func() bool { return e.batch(b.ID)["suspended"] == true })
	require.NoError(t, e.c7.SetStatistics(b.ID, 250, 1, 1))
	eventually(t, "statistics before the end", func() bool {
		st, _ := e.batch(b.ID)["statistics"].(map[string]any)
		return st != nil && st["remainingJobs"] == float64(1)
	})
	require.NoError(t, e.c7.Finish(b.ID, 7*24*time.Hour))
	eventually(t, "the batch moved to history", func() bool {
		g := e.batch(b.ID)
		return g["completed"] == true && g["endTime"] != nil && g["removalTime"] != nil
	})
	st := e.batch(b.ID)["statistics"].(map[string]any)
	assert.Equal(t, float64(1), st["failedJobs"], "an ended batch keeps its last statistics")

	// started and ended between two polls
	e.stop()
	quick := e.c7.AddBatch(enginefake.Batch{Type: "set-job-retries", TotalJobs: 3, RemainingJobs: 3})
	require.NoError(t, e.c7.Finish(quick.ID, 0))
	e.run()
	eventually(t, "the quick batch", func() bool {
		g := e.batch(quick.ID)
		return g != nil && g["completed"] == true && g["type"] == "set-job-retries"
	})
	// history cleanup: the record stays
	require.NoError(t, e.c7.DeleteHistory(b.ID))
	time.Sleep(100 * time.Millisecond)
	assert.NotNil(t, e.batch(b.ID), "records the engine no longer returns stay")
	assert.Equal(t, syncer.OK, e.status(syncer.Camunda7).State)
	for _, r := range e.c7.Requests() {
		assert.Equal(t, 200, r.Status, "%s %s?%s", r.Method, r.Path, r.Query)
	}
}
