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

// An operation progressing item by item, and operations that start and
// finish between two polls, are served as the engine has them.
func TestCamunda8Converges(t *testing.T) {
	e := newEnv(t, envOpts{no7: true})
	e.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 5)
	e.run()
	eventually(t, "the created operation", func() bool { return e.converged("2251799813685001") })
	for step := range 5 {
		failed := 0
		if step == 2 {
			failed = 1
		}
		require.NoError(t, e.c8.Progress("2251799813685001", 1-failed, failed))
		eventually(t, fmt.Sprintf("step %d", step), func() bool { return e.converged("2251799813685001") })
	}
	assert.Equal(t, "PARTIALLY_COMPLETED", e.graphOp("2251799813685001").State)

	// started and finished between two polls: never seen running
	e.stop()
	for i := range 3 {
		k := strconv.Itoa(2251799813686000 + i)
		e.c8.Create(k, "MIGRATE_PROCESS_INSTANCE", 3)
		require.NoError(t, e.c8.Finish(k))
	}
	e.run()
	eventually(t, "operations that started and finished between polls", func() bool {
		return e.converged("2251799813686000", "2251799813686001", "2251799813686002")
	})
	st := e.status(syncer.Camunda8)
	assert.Equal(t, syncer.OK, st.State)
	assert.Nil(t, st.LastError)
	assert.Positive(t, st.RecordsWritten)
	assert.LessOrEqual(t, e.c8.InFlight().Max, 2, "at most 2 requests in flight per engine")
}

// camunda/camunda#61727: an operation that reads COMPLETED while its items
// are still ACTIVE stays running work for its items until they settle.
func TestCamunda8Bug61727(t *testing.T) {
	e := newEnv(t, envOpts{no7: true, c8: []enginefake.Option{enginefake.WithBug61727()}})
	e.c8.Create("2251799813685101", "RESOLVE_INCIDENT", 4)
	e.run()
	eventually(t, "created", func() bool { return e.converged("2251799813685101") })
	require.NoError(t, e.c8.Progress("2251799813685101", 3, 1)) // op COMPLETED at once, items still ACTIVE
	eventually(t, "op COMPLETED, items ACTIVE", func() bool { return e.converged("2251799813685101") })
	g := e.graphOp("2251799813685101")
	require.Equal(t, "COMPLETED", g.State)
	require.Contains(t, g.Items, "=ACTIVE")
	// several polls pass, then the items settle
	time.Sleep(100 * time.Millisecond)
	e.c8.SettleItems("2251799813685101")
	eventually(t, "items settled after the operation finished", func() bool { return e.converged("2251799813685101") })
	assert.NotContains(t, e.graphOp("2251799813685101").Items, "=ACTIVE")
	// settled: its items are not read again
	eventually(t, "a poll after settling", func() bool { return e.status(syncer.Camunda8).LastPollRequests > 0 })
	e.c8.ResetRequests()
	eventually(t, "more polls", func() bool { return len(e.c8.Requests()) >= 10 })
	for _, body := range searches(e.c8, "/v2/batch-operation-items/search") {
		f, _ := body["filter"].(map[string]any)
		assert.NotEqual(t, "2251799813685101", f["batchOperationKey"], "a settled finished operation's items are read no more")
	}
}

// Cursor paging over a unique sort: 2,500 items of one operation and 2,500
// finished operations with the same startDate, with the totalItems cap at
// 1,000, all land; no request uses an offset.
func TestCamunda8CursorPaging(t *testing.T) {
	e := newEnv(t, envOpts{no7: true, c8: []enginefake.Option{enginefake.WithTotalItemsCap(1000)}})
	big := e.c8.Create("2251799813685201", "DELETE_PROCESS_INSTANCE", 2500)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 2500 {
		e.c8.PutOperation(enginefake.Operation{Key: strconv.Itoa(2251799813690000 + i), State: "COMPLETED",
			Type: "CANCEL_PROCESS_INSTANCE", StartDate: &start, EndDate: &start})
	}
	e.run()
	eventually(t, "all items", func() bool { return e.converged(big.Key) })
	d := e.query(`{ batchOperations { totalCount } batchOperationItems { totalCount } }`)
	assert.EqualValues(t, 2501, d["batchOperations"].(map[string]any)["totalCount"])
	assert.EqualValues(t, 2500, d["batchOperationItems"].(map[string]any)["totalCount"])
	for _, path := range []string{"/v2/batch-operations/search", "/v2/batch-operation-items/search"} {
		reqs := searches(e.c8, path)
		require.NotEmpty(t, reqs)
		afters := 0
		for _, body := range reqs {
			page := body["page"].(map[string]any)
			assert.NotContains(t, page, "from", "cursor paging only")
			assert.LessOrEqual(t, page["limit"], float64(1000))
			if _, ok := page["after"]; ok {
				afters++
			}
			sort := body["sort"].([]any)
			last := sort[len(sort)-1].(map[string]any)["field"]
			if path == "/v2/batch-operations/search" {
				assert.Equal(t, "batchOperationKey", last, "unique sort: batchOperationKey last")
			} else {
				assert.Equal(t, "itemKey", last, "unique sort: batchOperationKey, itemKey")
			}
		}
		assert.Positive(t, afters, "%s paged with page.after", path)
	}
}

// A record with an enum value from a newer engine is quarantined and
// listed; the others land; once the engine serves it fixed, it lands at the
// next full reconciliation and leaves the list.
func TestCamunda8Quarantine(t *testing.T) {
	cfg := testConfig()
	cfg.FullInterval = 300 * time.Millisecond
	e := newEnv(t, envOpts{no7: true, cfg: cfg})
	now := time.Now().Add(-time.Hour)
	e.c8.PutOperation(enginefake.Operation{Key: "2251799813685301", State: "COMPLETED", Type: "FUTURE_TYPE", StartDate: &now, EndDate: &now})
	e.c8.Create("2251799813685302", "CANCEL_PROCESS_INSTANCE", 2)
	e.c8.PutItems(enginefake.Item{OperationType: "CANCEL_PROCESS_INSTANCE", OperationKey: "2251799813685302",
		ItemKey: "2251799813699999", ProcessInstanceKey: "2251799813699999", State: "PAUSED"})
	e.run()
	eventually(t, "quarantine listed", func() bool { return len(e.status(syncer.Camunda8).Quarantined) == 2 })
	q := e.status(syncer.Camunda8).Quarantined
	require.Equal(t, "batch operation", q[0].Kind)
	assert.Equal(t, "2251799813685301", q[0].Key)
	require.NotNil(t, q[0].Field)
	assert.Equal(t, "batchOperationType", *q[0].Field)
	require.NotNil(t, q[0].Value)
	assert.Equal(t, `"FUTURE_TYPE"`, *q[0].Value)
	assert.Contains(t, q[0].Reason, "BatchOperationType")
	assert.Equal(t, "batch operation item", q[1].Kind)
	assert.Equal(t, "2251799813685302/2251799813699999", q[1].Key)
	eventually(t, "a quarantined record does not fail the poll", func() bool { return e.status(syncer.Camunda8).State == syncer.OK })

	d := e.query(`{ syncStatus { engine state quarantined { kind key field value reason since } } }`)
	assert.Len(t, d["syncStatus"].([]any)[0].(map[string]any)["quarantined"], 2)
	assert.Nil(t, e.graphOp("2251799813685301"))
	g := e.graphOp("2251799813685302")
	require.NotNil(t, g, "the rest landed")
	assert.Equal(t, "2251799813700001=ACTIVE,2251799813700002=ACTIVE", g.Items, "the operation's good items landed")

	require.NoError(t, e.c8.UpdateOperation("2251799813685301", func(o *enginefake.Operation) { o.Type = "RESOLVE_INCIDENT" }))
	e.c8.PutItems(enginefake.Item{OperationType: "CANCEL_PROCESS_INSTANCE", OperationKey: "2251799813685302",
		ItemKey: "2251799813699999", ProcessInstanceKey: "2251799813699999", State: "COMPLETED"})
	eventually(t, "quarantine empties", func() bool { return len(e.status(syncer.Camunda8).Quarantined) == 0 })
	eventually(t, "fixed records land", func() bool { return e.converged("2251799813685301", "2251799813685302") })
}
