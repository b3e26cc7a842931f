package graph

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
)

// The fixture data set. Names used in the tests:
//
//	batches:    "1", "2", "10", uuidBatch, "abc"
//	operations: opA "100" (100 items), opB, opC, opD (numeric keys), opL (legacy UUID)
//	items:      opB/5, opB/itemB1, opB/itemB2; opA/1..100; "999"/1 (operation not imported)
const (
	uuidBatch = "3f0c8a52-1b2d-11ef-8a4e-0242ac130003"
	opA       = "100"
	opB       = "2251799813685249"
	opC       = "2251799813685250"
	opD       = "2251799813685300"
	opL       = "8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13"
	opMissing = "999"
	itemB1    = "2251799813690746"
	itemB2    = "2251799813690801"
)

func fixtureBatches() []*storage.Batch {
	jobDefs := func(b *storage.Batch, suffix string) *storage.Batch {
		b.BatchJobsPerSeed, b.InvocationsPerBatchJob = ptr(100), ptr(1)
		b.SeedJobDefinitionID = ptr("seed-" + suffix)
		b.MonitorJobDefinitionID = ptr("monitor-" + suffix)
		b.BatchJobDefinitionID = ptr("job-" + suffix)
		return b
	}
	return []*storage.Batch{
		jobDefs(&storage.Batch{ // runtime + statistics + running history
			BatchID: "1", Type: "instance-migration", TotalJobs: 10, JobsCreated: ptr(10), CreateUserID: ptr("demo"),
			StartTime: ts("2024-05-14T09:12:03.417+02:00"), ExecutionStartTime: ts("2024-05-14T09:12:05.9+02:00"),
			Statistics: &storage.BatchStatistics{RemainingJobs: 4, CompletedJobs: 6, FailedJobs: 2},
		}, "1"),
		jobDefs(&storage.Batch{ // runtime + statistics
			BatchID: "2", Type: "instance-deletion", TotalJobs: 10, JobsCreated: ptr(10), Suspended: true,
			TenantID: ptr("tenant-a"), CreateUserID: ptr("ops"), StartTime: ts("2024-05-13T10:00:00Z"),
			Statistics: &storage.BatchStatistics{RemainingJobs: 5, CompletedJobs: 5, FailedJobs: 0},
		}, "2"),
		jobDefs(&storage.Batch{ // history only
			BatchID: "10", Type: "set-job-retries", TotalJobs: 12, TenantID: ptr("tenant-b"),
			StartTime: ts("2024-05-12T12:00:10.021Z"), ExecutionStartTime: ts("2024-05-12T12:00:10.388Z"),
			EndTime: ts("2024-05-12T12:00:42.775Z"), RemovalTime: ts("2024-05-19T12:00:42.775Z"),
		}, "10"),
		jobDefs(&storage.Batch{ // history only
			BatchID: uuidBatch, Type: "instance-migration", TotalJobs: 1,
			TenantID: ptr("tenant-a"), CreateUserID: ptr("demo"), EndTime: ts("2024-05-15T08:00:00Z"),
		}, "u"),
		jobDefs(&storage.Batch{ // runtime + statistics
			BatchID: "abc", Type: "custom-type", TotalJobs: 10, JobsCreated: ptr(0), StartTime: ts("2024-05-16T00:00:00Z"),
			Statistics: &storage.BatchStatistics{RemainingJobs: 10, CompletedJobs: 0, FailedJobs: 5},
		}, "abc"),
	}
}

func fixtureOperations() []*storage.BatchOperation {
	return []*storage.BatchOperation{
		{
			BatchOperationKey: opB, BatchOperationType: "CANCEL_PROCESS_INSTANCE", State: "PARTIALLY_COMPLETED",
			StartDate: ts("2025-06-04T11:13:43.123Z"), EndDate: ts("2025-06-04T11:14:02.870Z"),
			ActorType: ptr(storage.ActorType("USER")), ActorID: ptr("demo"),
			OperationsTotalCount: 3, OperationsFailedCount: 1, OperationsCompletedCount: 2,
			Errors: []storage.BatchOperationError{{PartitionID: 2, Type: "QUERY_FAILED", Message: "Failed to query process instances"}},
		},
		{
			BatchOperationKey: opC, BatchOperationType: "MIGRATE_PROCESS_INSTANCE", State: "ACTIVE",
			StartDate: ts("2025-06-05T08:00:00Z"), ActorType: ptr(storage.ActorType("CLIENT")), ActorID: ptr("zeebe-client"),
			OperationsTotalCount: 10, OperationsCompletedCount: 4,
		},
		{
			BatchOperationKey: opA, BatchOperationType: "RESOLVE_INCIDENT", State: "COMPLETED",
			StartDate: ts("2025-06-01T00:00:00Z"), EndDate: ts("2025-06-01T01:00:00Z"),
			OperationsTotalCount: 100, OperationsCompletedCount: 100,
		},
		{
			BatchOperationKey: opL, BatchOperationType: "ADD_VARIABLE", State: "COMPLETED",
			StartDate: ts("2023-01-01T00:00:00Z"), EndDate: ts("2023-01-01T00:05:00Z"),
			OperationsTotalCount: 5, OperationsCompletedCount: 5,
		},
		{
			BatchOperationKey: opD, BatchOperationType: "DELETE_PROCESS_INSTANCE", State: "CREATED",
			ActorType: ptr(storage.ActorType("ANONYMOUS")),
			Errors:    []storage.BatchOperationError{{PartitionID: 1, Type: "RESULT_BUFFER_SIZE_EXCEEDED", Message: "too many"}},
		},
	}
}

// opAItemState is the state of item i (1..100) of opA.
func opAItemState(i int) storage.ItemState {
	return []storage.ItemState{"COMPLETED", "FAILED", "CANCELED", "ACTIVE"}[i%4]
}

func fixtureItems() []*storage.BatchOperationItem {
	items := []*storage.BatchOperationItem{
		{
			BatchOperationKey: opB, ItemKey: itemB1, OperationType: "CANCEL_PROCESS_INSTANCE",
			ProcessInstanceKey: ptr(itemB1), RootProcessInstanceKey: ptr("2251799813690700"), State: "FAILED",
			ProcessedDate: ts("2025-06-04T11:13:59.004999999Z"),
			ErrorMessage:  ptr("Expected to cancel a process instance, but it is a child process instance."),
		},
		{
			BatchOperationKey: opB, ItemKey: itemB2, OperationType: "CANCEL_PROCESS_INSTANCE",
			ProcessInstanceKey: ptr(itemB2), State: "ACTIVE",
		},
		{
			BatchOperationKey: opB, ItemKey: "5", OperationType: "CANCEL_PROCESS_INSTANCE",
			State: "SKIPPED", ProcessedDate: ts("2025-06-04T11:14:00Z"),
		},
		{
			BatchOperationKey: opMissing, ItemKey: "1", OperationType: "DELETE_DECISION_INSTANCE",
			State: "COMPLETED", ProcessedDate: ts("2025-06-02T00:00:00Z"),
		},
	}
	base := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= 100; i++ {
		it := &storage.BatchOperationItem{
			BatchOperationKey: opA, ItemKey: strconv.Itoa(i), OperationType: "RESOLVE_INCIDENT",
			ProcessInstanceKey: ptr(strconv.Itoa(1000 + i)), State: opAItemState(i),
		}
		if i%2 == 0 {
			it.RootProcessInstanceKey = ptr("1000")
		}
		if it.State != "ACTIVE" {
			it.ProcessedDate = ptr(base.Add(time.Duration(i) * time.Minute))
		}
		if it.State == "FAILED" {
			it.ErrorMessage = ptr(fmt.Sprintf("incident %d could not be resolved", i))
		}
		items = append(items, it)
	}
	return items
}

// fixtureFiles are the fixture set in the engines' formats, in import
// order: Camunda 7 runtime, statistics and historic records merge into one
// Batch per id.
var fixtureFiles = []string{
	"c7-batches.json",
	"c7-batch-statistics.json",
	"c7-history-batches.json",
	"c8-batch-operations.json",
	"c8-batch-operation-items.json",
	"c8-batch-operation-items-100.ndjson",
}

func importFixtures(t *testing.T, store *storage.Store) {
	t.Helper()
	for _, f := range fixtureFiles {
		_, err := importer.File(context.Background(), store, filepath.Join("testdata", f), importer.Options{})
		require.NoError(t, err, f)
	}
}

// fill writes the whole fixture set directly.
func fill(w *storage.Writer) error {
	for _, b := range fixtureBatches() {
		if _, err := w.PutBatch(b); err != nil {
			return err
		}
	}
	for _, o := range fixtureOperations() {
		if _, err := w.PutBatchOperation(o); err != nil {
			return err
		}
	}
	for _, it := range fixtureItems() {
		if _, err := w.PutItem(it); err != nil {
			return err
		}
	}
	return nil
}

// fixtureEnv is an env over the imported fixture files, default config.
func fixtureEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, envOptions{}, nil)
	importFixtures(t, e.store)
	return e
}

// itemLabels renders the items at path (objects with batchOperationKey and
// itemKey) as "op/item".
func itemLabels(t *testing.T, v any, path ...any) []string {
	t.Helper()
	ops := pluck(t, v, "batchOperationKey", path...)
	keys := pluck(t, v, "itemKey", path...)
	out := make([]string, len(ops))
	for i := range ops {
		out[i] = ops[i] + "/" + keys[i]
	}
	return out
}

func label(op, item string) string { return op + "/" + item }

func opAItems(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, label(opA, strconv.Itoa(i)))
	}
	return out
}

// The fixture files hold exactly the records the Go fixtures describe, which
// the tests derive their expectations from.
func TestFixtureFilesMatchFixtures(t *testing.T) {
	e := fixtureEnv(t)
	err := e.store.View(context.Background(), func(r *storage.Reader) error {
		for _, want := range fixtureBatches() {
			got, err := r.Batch(want.BatchID)
			require.NoError(t, err)
			require.NotNil(t, got, want.BatchID)
			assert.Equal(t, normalize(want), normalize(got), want.BatchID)
		}
		for _, want := range fixtureOperations() {
			got, err := r.BatchOperation(want.BatchOperationKey)
			require.NoError(t, err)
			require.NotNil(t, got, want.BatchOperationKey)
			assert.Equal(t, normalize(want), normalize(got), want.BatchOperationKey)
		}
		for _, want := range fixtureItems() {
			got, err := r.Item(want.BatchOperationKey, want.ItemKey)
			require.NoError(t, err)
			require.NotNil(t, got, label(want.BatchOperationKey, want.ItemKey))
			assert.Equal(t, normalize(want), normalize(got), label(want.BatchOperationKey, want.ItemKey))
		}
		return nil
	})
	require.NoError(t, err)
	data := e.query(`{ batches { totalCount } batchOperations { totalCount } batchOperationItems { totalCount } }`, nil)
	assert.Equal(t, []any{5.0, 5.0, 104.0}, []any{at(t, data, "batches", "totalCount"),
		at(t, data, "batchOperations", "totalCount"), at(t, data, "batchOperationItems", "totalCount")})
}

// normalize renders a record for comparison: instants in UTC, an empty
// error list as none.
func normalize[T any](rec *T) T {
	out := *rec
	v := reflect.ValueOf(&out).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch x := f.Interface().(type) {
		case *time.Time:
			if x != nil {
				f.Set(reflect.ValueOf(ptr(x.UTC())))
			}
		case []storage.BatchOperationError:
			if len(x) == 0 {
				f.Set(reflect.Zero(f.Type()))
			}
		}
	}
	return out
}
