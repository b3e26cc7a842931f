package main

import (
	"time"

	"github.com/batchql/batchql/enginefake"
)

// seedRecords gives each engine a few records of every kind the sync
// meets: finished, running and not yet started operations, a legacy (UUID)
// one; running, suspended and finished batches.
func seedRecords(c8 *enginefake.Camunda8, c7 *enginefake.Camunda7, now time.Time) error {
	user, demo := "USER", "demo"
	c8.Create("2251799813685249", "CANCEL_PROCESS_INSTANCE", 3)
	if err := c8.UpdateOperation("2251799813685249", func(op *enginefake.Operation) {
		op.ActorType, op.ActorID = &user, &demo
		op.Errors = []enginefake.OperationError{{PartitionID: 2, Type: "QUERY_FAILED", Message: "Failed to query process instances"}}
	}); err != nil {
		return err
	}
	if err := c8.Progress("2251799813685249", 2, 1); err != nil {
		return err
	}
	c8.Create("2251799813685301", "MIGRATE_PROCESS_INSTANCE", 25)
	if err := c8.Progress("2251799813685301", 10, 2); err != nil {
		return err
	}
	c8.Create("2251799813685400", "RESOLVE_INCIDENT", 5)

	legacy := "8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13"
	start, end := now.Add(-48*time.Hour), now.Add(-47*time.Hour)
	c8.PutOperation(enginefake.Operation{Key: legacy, State: "COMPLETED", Type: "ADD_VARIABLE",
		StartDate: &start, EndDate: &end, TotalCount: 2, CompletedCount: 2})
	for _, k := range []string{"2251799813690001", "2251799813690002"} {
		c8.PutItems(enginefake.Item{OperationType: "ADD_VARIABLE", OperationKey: legacy, ItemKey: k,
			ProcessInstanceKey: k, State: "COMPLETED", ProcessedDate: &end})
	}

	tenant := "tenant-a"
	b := c7.AddBatch(enginefake.Batch{Type: "instance-migration", TotalJobs: 250, CreateUserID: &demo, RemainingJobs: 250})
	if err := c7.SetStatistics(b.ID, 200, 130, 3); err != nil {
		return err
	}
	c7.AddBatch(enginefake.Batch{Type: "set-job-retries", TotalJobs: 12, RemainingJobs: 12, Suspended: true, TenantID: &tenant})
	done := c7.AddBatch(enginefake.Batch{Type: "instance-deletion", TotalJobs: 40, JobsCreated: 40, TenantID: &tenant})
	return c7.Finish(done.ID, 7*24*time.Hour)
}
