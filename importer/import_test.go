package importer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
	bolt "go.etcd.io/bbolt"
)

func impOpen(tb testing.TB) *storage.Store {
	tb.Helper()
	s, err := storage.Open(filepath.Join(tb.TempDir(), "t.db"), storage.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	return s
}

func impFixture(name string) string { return filepath.Join("testdata", "import", name) }

// impFile writes content to a temp file and returns its path.
func impFile(tb testing.TB, name, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	require.NoError(tb, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func impRun(t *testing.T, s *storage.Store, path string) *Stats {
	t.Helper()
	st, err := File(context.Background(), s, path, Options{})
	require.NoError(t, err, path)
	return st
}

// impAll is every fixture, in an order whose dependencies hold (8.8 items
// after their operation).
var impAll = []string{
	"c7_batch.json", "c7_statistics.json", "c7_history.json",
	"c8_operation.json", "c8_operations_search.json", "c8_items_search.json",
	"c8_items.ndjson", "c8_items_88.ndjson", "c8_legacy_operation.json",
}

// impDigest hashes every bucket's keys and values.
func impDigest(t *testing.T, s *storage.Store) string {
	t.Helper()
	h := sha256.New()
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			fmt.Fprintf(h, "bucket %q\n", name)
			return b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(h, "%x=%x\n", k, v)
				return nil
			})
		})
	}))
	return hex.EncodeToString(h.Sum(nil))
}

// impSnapshot is every record, read back through the storage.Reader's getters, and
// the counters.
type impSnapshot struct {
	Batches  map[string]*storage.Batch
	Ops      map[string]*storage.BatchOperation
	Items    map[string]*storage.BatchOperationItem
	Counters map[string]int64
}

func impSnap(t *testing.T, s *storage.Store) *impSnapshot {
	t.Helper()
	snap := &impSnapshot{Batches: map[string]*storage.Batch{}, Ops: map[string]*storage.BatchOperation{}, Items: map[string]*storage.BatchOperationItem{}}
	require.NoError(t, s.View(context.Background(), func(r *storage.Reader) error {
		require.NoError(t, r.EachBatch(func(b *storage.Batch) error {
			snap.Batches[b.BatchID] = b
			return nil
		}))
		require.NoError(t, r.EachBatchOperation(func(o *storage.BatchOperation) error {
			snap.Ops[o.BatchOperationKey] = o
			return nil
		}))
		require.NoError(t, r.EachItem(func(it *storage.BatchOperationItem) error {
			snap.Items[it.BatchOperationKey+"/"+it.ItemKey] = it
			return nil
		}))
		snap.Counters = r.Counters()
		return nil
	}))
	return snap
}

// checkConsistent requires that every index and counter equal a rebuild
// from the records (storage.Store.Verify, whose own tests corrupt a
// database).
func checkConsistent(t *testing.T, s *storage.Store) {
	t.Helper()
	require.NoError(t, s.Verify(context.Background()))
}

func impTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

func impStr(s string) *string { return &s }
func impInt(v int) *int       { return &v }

func impCounts(st *Stats) map[string]KindCounts {
	out := map[string]KindCounts{}
	for k, c := range st.Kinds {
		if c.New != 0 || c.Updated != 0 || c.Unchanged != 0 {
			out[k] = *c
		}
	}
	return out
}

func TestImportFixtures(t *testing.T) {
	cases := []struct {
		file  string
		kinds map[string]KindCounts
	}{
		{"c7_batch.json", map[string]KindCounts{KindBatch: {New: 1}}},
		{"c7_statistics.json", map[string]KindCounts{KindBatchStats: {New: 2}}},
		{"c7_history.json", map[string]KindCounts{KindHistoricBatch: {New: 2}}},
		{"c8_operation.json", map[string]KindCounts{KindBatchOperation: {New: 1}}},
		{"c8_operations_search.json", map[string]KindCounts{KindBatchOperation: {New: 2}}},
		{"c8_items_search.json", map[string]KindCounts{KindItem: {New: 2}}},
		{"c8_items.ndjson", map[string]KindCounts{KindItem: {New: 5}}},
		{"c8_legacy_operation.json", map[string]KindCounts{KindBatchOperation: {New: 1}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			s := impOpen(t)
			st := impRun(t, s, impFixture(c.file))
			var n int64
			for _, k := range c.kinds {
				n += k.New + k.Updated
			}
			assert.Equal(t, n, st.Records)
			assert.Equal(t, c.kinds, impCounts(st))
			assert.Len(t, st.Kinds, 5, "all kinds are reported")
			assert.Greater(t, st.Elapsed, time.Duration(0))
			checkConsistent(t, s)
		})
	}
}

func TestImportFormats(t *testing.T) {
	op := func(key, state string) string {
		return `{"batchOperationKey":"` + key + `","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"` + state + `"}`
	}
	cases := []struct {
		name, content string
		keys          []string // operations stored afterwards, with state of the last record
		states        []storage.OperationState
	}{
		{"single object", op("1", "ACTIVE"), []string{"1"}, []storage.OperationState{"ACTIVE"}},
		{"array", "[" + op("1", "ACTIVE") + ",\n" + op("2", "CREATED") + "]", []string{"1", "2"}, []storage.OperationState{"ACTIVE", "CREATED"}},
		{"empty array", "[]", nil, nil},
		{"search response", `{"items":[` + op("1", "ACTIVE") + `],"page":{"totalItems":1,"hasMoreTotalItems":false,"startCursor":null,"endCursor":null}}`, []string{"1"}, []storage.OperationState{"ACTIVE"}},
		{"search response, page first", `{"page":{"totalItems":2,"x":[1,{"y":[]}]}, "items" : [ ` + op("1", "ACTIVE") + ` , ` + op("2", "FAILED") + ` ] }`, []string{"1", "2"}, []storage.OperationState{"ACTIVE", "FAILED"}},
		{"search response, empty items", `{"items":[],"page":{"totalItems":0}}`, nil, nil},
		{"search response, null items", `{"items":null,"page":{"totalItems":0}}`, nil, nil},
		{"two search responses", `{"items":[` + op("1", "ACTIVE") + `]}` + "\n" + `{"items":[` + op("2", "ACTIVE") + `]}`, []string{"1", "2"}, []storage.OperationState{"ACTIVE", "ACTIVE"}},
		{"ndjson", op("1", "ACTIVE") + "\n" + op("2", "CREATED") + "\n" + op("1", "COMPLETED") + "\n", []string{"1", "2"}, []storage.OperationState{"COMPLETED", "CREATED"}},
		{"ndjson with CRLF and blank lines", op("1", "ACTIVE") + "\r\n\r\n" + op("2", "CREATED") + "\r\n", []string{"1", "2"}, []storage.OperationState{"ACTIVE", "CREATED"}},
		{"concatenated objects", op("1", "ACTIVE") + op("2", "CREATED"), []string{"1", "2"}, []storage.OperationState{"ACTIVE", "CREATED"}},
		{"pretty printed stream", "{\n  \"batchOperationKey\": \"1\",\n  \"batchOperationType\": \"CANCEL_PROCESS_INSTANCE\",\n  \"state\": \"ACTIVE\"\n}\n{\n  \"batchOperationKey\": 2,\n  \"batchOperationType\": \"CANCEL_PROCESS_INSTANCE\",\n  \"state\": \"CREATED\"\n}\n", []string{"1", "2"}, []storage.OperationState{"ACTIVE", "CREATED"}},
		{"byte order mark", "\xEF\xBB\xBF" + op("1", "ACTIVE"), []string{"1"}, []storage.OperationState{"ACTIVE"}},
		{"escapes in keys and values", `{"batchOperation\u004bey":"\u0031","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"\u0041CTIVE","actorId":"a\"b\\c\/\u00e9\ud83d\ude00"}`, []string{"1"}, []storage.OperationState{"ACTIVE"}},
		{"unknown fields are ignored", `{"batchOperationKey":"1","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE","future":{"a":[1,2.5e3,-0.1E-2,true,false,null,"x"]},"n":-0}`, []string{"1"}, []storage.OperationState{"ACTIVE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := impOpen(t)
			st := impRun(t, s, impFile(t, "in.json", c.content))
			snap := impSnap(t, s)
			require.Len(t, snap.Ops, len(c.keys))
			for i, k := range c.keys {
				require.Contains(t, snap.Ops, k)
				assert.Equal(t, c.states[i], snap.Ops[k].State, k)
			}
			assert.Equal(t, st.Kinds[KindBatchOperation].New, int64(len(c.keys)))
		})
	}
	t.Run("escaped actor id", func(t *testing.T) {
		s := impOpen(t)
		impRun(t, s, impFile(t, "in.json", cases[13].content))
		assert.Equal(t, "a\"b\\c/é😀", *impSnap(t, s).Ops["1"].ActorID)
	})
}

func TestImportC7MergeIntoOneBatch(t *testing.T) {
	files := []string{"c7_batch.json", "c7_statistics.json", "c7_history.json"}
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	var first *impSnapshot
	for _, order := range orders {
		s := impOpen(t)
		for _, i := range order {
			impRun(t, s, impFixture(files[i]))
		}
		snap := impSnap(t, s)
		if first == nil {
			first = snap
			continue
		}
		assert.Equal(t, first, snap, "order %v gives the same state", order)
	}
	require.Len(t, first.Batches, 3)

	running := first.Batches["3f0c8a52-1b2d-11ef-8a4e-0242ac130003"]
	assert.Equal(t, &storage.Batch{
		BatchID:                "3f0c8a52-1b2d-11ef-8a4e-0242ac130003",
		Type:                   "instance-migration",
		TotalJobs:              250,
		JobsCreated:            impInt(200),
		BatchJobsPerSeed:       impInt(100),
		InvocationsPerBatchJob: impInt(1),
		SeedJobDefinitionID:    impStr("3f0d27a4-1b2d-11ef-8a4e-0242ac130003"),
		MonitorJobDefinitionID: impStr("3f0d4eb6-1b2d-11ef-8a4e-0242ac130003"),
		BatchJobDefinitionID:   impStr("3f0d75c8-1b2d-11ef-8a4e-0242ac130003"),
		Suspended:              false,
		TenantID:               nil,
		CreateUserID:           impStr("demo"),
		StartTime:              impTime("2024-05-14T07:12:03.417Z"),
		ExecutionStartTime:     impTime("2024-05-14T07:12:05.902Z"),
		EndTime:                nil,
		RemovalTime:            nil,
		Statistics:             &storage.BatchStatistics{RemainingJobs: 130, CompletedJobs: 120, FailedJobs: 3},
	}, running)
	assert.False(t, running.Completed())

	// Only history is known: not suspended, no jobsCreated, no statistics.
	done := first.Batches["8d41e0a7-19f0-11ef-9b1c-0242ac130003"]
	assert.Equal(t, &storage.Batch{
		BatchID:                "8d41e0a7-19f0-11ef-9b1c-0242ac130003",
		Type:                   "set-job-retries",
		TotalJobs:              12,
		BatchJobsPerSeed:       impInt(100),
		InvocationsPerBatchJob: impInt(1),
		SeedJobDefinitionID:    impStr("8d41e0a8-19f0-11ef-9b1c-0242ac130003"),
		MonitorJobDefinitionID: impStr("8d4207b9-19f0-11ef-9b1c-0242ac130003"),
		BatchJobDefinitionID:   impStr("8d422eca-19f0-11ef-9b1c-0242ac130003"),
		TenantID:               impStr("tenant-a"),
		CreateUserID:           impStr("ops-admin"),
		StartTime:              impTime("2024-05-12T12:00:10.021Z"),
		ExecutionStartTime:     impTime("2024-05-12T12:00:10.388Z"),
		EndTime:                impTime("2024-05-12T12:00:42.775Z"),
		RemovalTime:            impTime("2024-05-19T12:00:42.775Z"),
	}, done)
	assert.True(t, done.Completed())

	susp := first.Batches["5a7e21c4-1c02-11ef-8a4e-0242ac130003"]
	assert.True(t, susp.Suspended)
	assert.Equal(t, impStr("tenant-b"), susp.TenantID)
	assert.Nil(t, susp.CreateUserID)
	assert.Nil(t, susp.ExecutionStartTime)
	assert.Equal(t, &storage.BatchStatistics{RemainingJobs: 40}, susp.Statistics)

	// A later historic record with an end time completes the batch and
	// keeps what only the runtime record and the statistics had.
	s := impOpen(t)
	for _, f := range files {
		impRun(t, s, impFixture(f))
	}
	impRun(t, s, impFile(t, "end.json", `[{"id":"3f0c8a52-1b2d-11ef-8a4e-0242ac130003","type":"instance-migration","totalJobs":250,`+
		`"endTime":"2024-05-14T09:20:00.000+0200","removalTime":null}]`))
	b := impSnap(t, s).Batches["3f0c8a52-1b2d-11ef-8a4e-0242ac130003"]
	assert.Equal(t, impTime("2024-05-14T07:20:00Z"), b.EndTime)
	assert.Equal(t, impInt(200), b.JobsCreated)
	assert.Equal(t, &storage.BatchStatistics{RemainingJobs: 130, CompletedJobs: 120, FailedJobs: 3}, b.Statistics)
	assert.True(t, b.Completed())
	checkConsistent(t, s)
}

func TestImportC8Values(t *testing.T) {
	s := impOpen(t)
	for _, f := range impAll {
		impRun(t, s, impFixture(f))
	}
	snap := impSnap(t, s)
	user, client := storage.ActorType("USER"), storage.ActorType("CLIENT")

	assert.Equal(t, &storage.BatchOperation{
		BatchOperationKey:        "2251799813685249",
		BatchOperationType:       "CANCEL_PROCESS_INSTANCE",
		State:                    "PARTIALLY_COMPLETED",
		StartDate:                impTime("2025-06-04T11:13:43.123Z"),
		EndDate:                  impTime("2025-06-04T11:14:02.870Z"),
		ActorType:                &user,
		ActorID:                  impStr("demo"),
		OperationsTotalCount:     3,
		OperationsFailedCount:    1,
		OperationsCompletedCount: 2,
		Errors:                   []storage.BatchOperationError{{PartitionID: 2, Type: "QUERY_FAILED", Message: "Failed to query process instances"}},
	}, snap.Ops["2251799813685249"])
	assert.Equal(t, &storage.BatchOperation{
		BatchOperationKey:        "2251799813685301",
		BatchOperationType:       "MIGRATE_PROCESS_INSTANCE",
		State:                    "ACTIVE",
		StartDate:                impTime("2025-06-05T08:01:12.5Z"),
		ActorType:                &client,
		ActorID:                  impStr("zeebe-migrator"),
		OperationsTotalCount:     4,
		OperationsCompletedCount: 1,
		Errors:                   []storage.BatchOperationError{},
	}, snap.Ops["2251799813685301"])
	o := snap.Ops["2251799813685377"]
	assert.Equal(t, impTime("2025-06-05T05:59:58.000000001Z"), o.StartDate, "nanoseconds and +02:00")
	assert.Nil(t, o.ActorType)
	assert.Nil(t, o.ActorID)
	assert.Equal(t, []storage.BatchOperationError{
		{PartitionID: 1, Type: "RESULT_BUFFER_SIZE_EXCEEDED", Message: "Result buffer size exceeded"},
		{PartitionID: 3, Type: "QUERY_FAILED", Message: "Failed to query process instances"},
	}, o.Errors)
	legacy := snap.Ops["8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13"]
	assert.Equal(t, &storage.BatchOperation{
		BatchOperationKey:        "8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13",
		BatchOperationType:       "ADD_VARIABLE",
		State:                    "COMPLETED",
		StartDate:                impTime("2024-11-20T14:02:11.345Z"),
		EndDate:                  impTime("2024-11-20T14:02:19.001Z"),
		OperationsTotalCount:     1,
		OperationsCompletedCount: 1,
		Errors:                   []storage.BatchOperationError{},
	}, legacy)

	assert.Equal(t, &storage.BatchOperationItem{
		BatchOperationKey:      "2251799813685249",
		ItemKey:                "2251799813690746",
		OperationType:          "CANCEL_PROCESS_INSTANCE",
		ProcessInstanceKey:     impStr("2251799813690746"),
		RootProcessInstanceKey: impStr("2251799813690700"),
		State:                  "FAILED",
		ProcessedDate:          impTime("2025-06-04T11:13:59.004Z"),
		ErrorMessage:           impStr("Expected to cancel a process instance ..., but it is a child process instance."),
	}, snap.Items["2251799813685249/2251799813690746"])
	assert.Equal(t, &storage.BatchOperationItem{
		BatchOperationKey:  "2251799813685249",
		ItemKey:            "2251799813690801",
		OperationType:      "CANCEL_PROCESS_INSTANCE",
		ProcessInstanceKey: impStr("2251799813690801"),
		State:              "ACTIVE",
	}, snap.Items["2251799813685249/2251799813690801"])
	dec := snap.Items["2251799813685420/2251799813692200"]
	assert.Nil(t, dec.ProcessInstanceKey, `decision item's "-1" is stored as null`)
	assert.Equal(t, impTime("2025-06-06T10:00:00.5Z"), dec.ProcessedDate)
	assert.Equal(t, storage.ItemState("ACTIVE"), snap.Items["8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13/2251799813680011"].State, "legacy SCHEDULED is ACTIVE")
	it88 := snap.Items["2251799813685377/2251799813693002"]
	assert.Equal(t, storage.OperationType("MIGRATE_PROCESS_INSTANCE"), it88.OperationType, "8.8 item takes its operation's type")
	assert.Nil(t, it88.RootProcessInstanceKey)
	assert.Equal(t, storage.ItemState("COMPLETED"), it88.State)
	assert.Len(t, snap.Items, 9)
	assert.Len(t, snap.Ops, 4, "the decision items' operation is not imported")
	checkConsistent(t, s)
}

func TestImportTwiceGivesSameState(t *testing.T) {
	s := impOpen(t)
	var firstNew int64
	for _, f := range impAll {
		st := impRun(t, s, impFixture(f))
		for _, c := range st.Kinds {
			firstNew += c.New
		}
	}
	snap, digest := impSnap(t, s), impDigest(t, s)
	var records, unchanged int64
	for _, f := range impAll {
		st := impRun(t, s, impFixture(f))
		records += st.Records
		for k, c := range st.Kinds {
			assert.Zero(t, c.New, "%s %s", f, k)
			assert.Zero(t, c.Updated, "%s %s", f, k)
			unchanged += c.Unchanged
		}
	}
	assert.Equal(t, records, unchanged, "the second run reports every record as unchanged")
	assert.Equal(t, int64(3+4+9), firstNew, "distinct records")
	assert.Equal(t, snap, impSnap(t, s))
	assert.Equal(t, digest, impDigest(t, s), "nothing was rewritten")
	checkConsistent(t, s)
}

func TestImportMergeRules(t *testing.T) {
	s := impOpen(t)
	impRun(t, s, impFixture("c8_operation.json"))
	impRun(t, s, impFixture("c8_items_search.json"))

	// Present fields replace (null included); absent ones stay. A partial
	// record needs no required fields when its record is stored.
	st := impRun(t, s, impFile(t, "upd.ndjson", strings.Join([]string{
		`{"batchOperationKey":"2251799813685249","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"COMPLETED","endDate":null,"actorId":null,"errors":[]}`,
		`{"batchOperationKey":"2251799813685249","itemKey":"2251799813690801","state":"COMPLETED","processedDate":"2025-06-04T11:14:00Z"}`,
		`{"batchOperationKey":2251799813685249,"itemKey":2251799813690746,"errorMessage":null,"rootProcessInstanceKey":null}`,
	}, "\n")))
	assert.Equal(t, map[string]KindCounts{KindBatchOperation: {Updated: 1}, KindItem: {Updated: 2}}, impCounts(st))
	snap := impSnap(t, s)
	o := snap.Ops["2251799813685249"]
	assert.Equal(t, storage.OperationState("COMPLETED"), o.State)
	assert.Nil(t, o.EndDate)
	assert.Nil(t, o.ActorID)
	assert.Equal(t, storage.ActorType("USER"), *o.ActorType, "absent field kept")
	assert.Equal(t, impTime("2025-06-04T11:13:43.123Z"), o.StartDate)
	assert.Equal(t, 3, o.OperationsTotalCount)
	assert.Empty(t, o.Errors)
	it := snap.Items["2251799813685249/2251799813690801"]
	assert.Equal(t, storage.ItemState("COMPLETED"), it.State)
	assert.Equal(t, impTime("2025-06-04T11:14:00Z"), it.ProcessedDate)
	assert.Equal(t, storage.OperationType("CANCEL_PROCESS_INSTANCE"), it.OperationType)
	it = snap.Items["2251799813685249/2251799813690746"]
	assert.Nil(t, it.ErrorMessage)
	assert.Nil(t, it.RootProcessInstanceKey)
	assert.Equal(t, storage.ItemState("FAILED"), it.State)
	assert.Equal(t, impStr("2251799813690746"), it.ProcessInstanceKey)
	checkConsistent(t, s)

	// Within one file, a record may rely on one earlier in the file; new
	// operations get zero counts and no errors.
	s = impOpen(t)
	st = impRun(t, s, impFile(t, "seq.ndjson", strings.Join([]string{
		`{"batchOperationKey":"7","batchOperationType":"RESOLVE_INCIDENT","state":"CREATED"}`,
		`{"batchOperationKey":"7","batchOperationType":"RESOLVE_INCIDENT","operationsTotalCount":2}`,
		`{"batchOperationKey":"7","itemKey":"70","state":"ACTIVE"}`,
		`{"batchOperationKey":"7","itemKey":"70","state":"COMPLETED"}`,
		`{"batchOperationKey":"7","itemKey":"71","operationType":"RESOLVE_INCIDENT","state":"FAILED"}`,
		`{"batchOperationKey":"8","itemKey":"80","operationType":"RESOLVE_INCIDENT","state":"FAILED"}`,
		`{"batchOperationKey":"8","itemKey":"80","processInstanceKey":"800"}`,
		`{"id":"b1","type":"set-variables","totalJobs":1}`,
		`{"id":"b1","totalJobs":2,"failedJobs":1}`,
	}, "\n")))
	assert.Equal(t, map[string]KindCounts{
		KindBatchOperation: {New: 1, Updated: 1}, KindItem: {New: 3, Updated: 2},
		KindBatch: {New: 1}, KindBatchStats: {Updated: 1},
	}, impCounts(st))
	snap = impSnap(t, s)
	assert.Equal(t, &storage.BatchOperation{BatchOperationKey: "7", BatchOperationType: "RESOLVE_INCIDENT", State: "CREATED",
		OperationsTotalCount: 2, Errors: []storage.BatchOperationError{}}, snap.Ops["7"])
	assert.Equal(t, storage.OperationType("RESOLVE_INCIDENT"), snap.Items["7/70"].OperationType)
	assert.Equal(t, storage.ItemState("COMPLETED"), snap.Items["7/70"].State)
	assert.Equal(t, impStr("800"), snap.Items["8/80"].ProcessInstanceKey)
	assert.Equal(t, &storage.Batch{BatchID: "b1", Type: "set-variables", TotalJobs: 2, Statistics: &storage.BatchStatistics{FailedJobs: 1}}, snap.Batches["b1"])
	checkConsistent(t, s)
}

func TestImportBadInput(t *testing.T) {
	op := `{"batchOperationKey":"1","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`
	item := func(key string) string {
		return `{"batchOperationKey":"1","itemKey":"` + key + `","operationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`
	}
	cases := []struct {
		name, content string
		record, line  int64
		field, value  string
		reason        string // substring
	}{
		{"malformed JSON mid-file (NDJSON)", op + "\n" + item("10") + "\n" + `{"batchOperationKey":"1","itemKey":"11" "state":"ACTIVE"}` + "\n" + item("12"),
			3, 3, "", "", `malformed JSON at column 41: invalid character '"' after object key:value pair`},
		{"malformed JSON mid-array", "[\n" + op + ",\n" + item("10") + ",\n" + `{"batchOperationKey":"1","itemKey":tru}` + "\n]",
			3, 4, "", "", "malformed JSON at column 39: invalid character '}' in literal true (expecting 'e')"},
		{"missing comma in array", "[" + op + "\n" + op + "]", 2, 2, "", "", "invalid character '{' after array element"},
		{"trailing comma in array", "[" + op + ",]", 2, 1, "", "", "invalid character ']' looking for beginning of value"},
		{"truncated file", op + "\n" + `{"batchOperationKey":"1","itemKey":"1`, 2, 2, "", "", "unexpected end of input"},
		{"truncated array", "[" + op + ",", 2, 1, "", "", "unexpected end of input"},
		{"bad escape", `{"batchOperationKey":"1\q"}`, 1, 1, "", "", `invalid character 'q' in string escape code`},
		{"control character in string", "{\"batchOperationKey\":\"1\t\"}", 1, 1, "", "", `invalid character '\t' in string literal`},
		{"bad number", `{"batchOperationKey":01}`, 1, 1, "", "", `invalid character '1' after object key:value pair`},
		{"garbage after records", op + "\nnope", 2, 2, "", "", "invalid character 'o' in literal null"},
		{"top-level scalar", op + "\n42\n", 2, 2, "", "42", "the file must hold JSON objects"},
		{"array of non-objects", `[` + op + `,"x"]`, 2, 1, "", `"x"`, "a record must be a JSON object, not a string"},
		{"items not an array", `{"items":{"a":1}}`, 1, 1, "", `{"a":1}`, `"items" of a search response must be an array`},

		{"unknown operation state", op + "\n" + `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"DONE"}`,
			2, 2, "state", `"DONE"`, "unknown BatchOperationState (want one of CREATED, ACTIVE, SUSPENDED, COMPLETED, PARTIALLY_COMPLETED, CANCELED, FAILED)"},
		{"unknown operation type", `{"batchOperationKey":"2","batchOperationType":"EXPLODE","state":"ACTIVE"}`,
			1, 1, "batchOperationType", `"EXPLODE"`, "unknown BatchOperationType (want one of ADD_VARIABLE,"},
		{"unknown item state", `{"batchOperationKey":"1","itemKey":"5","operationType":"CANCEL_PROCESS_INSTANCE","state":"PENDING"}`,
			1, 1, "state", `"PENDING"`, "unknown BatchOperationItemState"},
		{"unknown actor type", `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE","actorType":"ROBOT"}`,
			1, 1, "actorType", `"ROBOT"`, "unknown AuditLogActorType (want one of ANONYMOUS, CLIENT, UNKNOWN, USER)"},
		{"enum not a string", `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":3}`,
			1, 1, "state", `3`, "must be a BatchOperationState name, not a number"},
		{"unknown error type", `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE",` + "\n" + `"errors":[{"partitionId":1,"type":"QUERY_FAILED","message":"m"},{"partitionId":2,"type":"OOPS","message":"m"}]}`,
			1, 2, "errors[1].type", `"OOPS"`, "unknown BatchOperationErrorType"},
		{"error without message", `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE","errors":[{"partitionId":1,"type":"QUERY_FAILED"}]}`,
			1, 1, "errors[0].message", "", "is missing"},
		{"errors not an array", `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE","errors":{}}`,
			1, 1, "errors", "{}", "must be an array"},

		{"bad date", op + "\n" + `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE","startDate":"2025-13-04T11:13:43.123Z"}`,
			2, 2, "startDate", `"2025-13-04T11:13:43.123Z"`, "is not a date"},
		{"date without zone", `{"id":"b","type":"t","totalJobs":1,"startTime":"2024-05-14T09:12:03.417"}`,
			1, 1, "startTime", `"2024-05-14T09:12:03.417"`, "is not a date"},
		{"date not a string", `{"batchOperationKey":"1","itemKey":"5","operationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE","processedDate":1717499639004}`,
			1, 1, "processedDate", "1717499639004", "must be a date string, not a number"},

		{"no known kind", op + "\n" + `{"foo":1,"bar":{"batchOperationKey":"1"}}`, 2, 2, "", "",
			`record of no known kind: it has "foo", "bar" (want batchOperationKey and itemKey`},
		{"empty object", `{}`, 1, 1, "", "", "record of no known kind: it has no fields"},
		{"batchOperationKey alone", `{"batchOperationKey":"1","state":"ACTIVE"}`, 1, 1, "", "", `record of no known kind: it has "batchOperationKey", "state"`},
		{"item without batchOperationKey", op + "\n" + `{"itemKey":"5","operationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`,
			2, 2, "batchOperationKey", "", "is missing: a batch operation item record needs batchOperationKey and itemKey"},
		{"operation without batchOperationKey", `{"batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`,
			1, 1, "batchOperationKey", "", "is missing: a batch operation record needs"},
		{"batch without id", `{"type":"t","totalJobs":1}`, 1, 1, "id", "", "is missing: a Camunda 7 batch record needs id and totalJobs"},
		{"batch without totalJobs", `{"id":"b","type":"t","jobsCreated":1}`, 1, 1, "totalJobs", "", "is missing"},
		{"empty item key", `{"batchOperationKey":"1","itemKey":"","operationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`,
			1, 1, "itemKey", `""`, "must not be empty"},
		{"null key", `{"batchOperationKey":null,"itemKey":"5","operationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`,
			1, 1, "batchOperationKey", "null", "must not be null"},
		{"fractional key", `{"batchOperationKey":1.5,"batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`,
			1, 1, "batchOperationKey", "1.5", "must be a string or an integer, not a number"},

		{"missing state on new operation", op + "\n" + `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","operationsTotalCount":1}`,
			2, 2, "state", "", `is missing: a new batch operation needs it, and no batch operation with key "2" is stored or earlier in the file`},
		{"missing state before its operation", `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE"}` + "\n" + `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`,
			1, 1, "state", "", "is missing"},
		{"missing state on new item", op + "\n" + `{"batchOperationKey":"1","itemKey":"9","operationType":"CANCEL_PROCESS_INSTANCE"}`,
			2, 2, "state", "", `no item with key "1/9" is stored or earlier in the file`},
		{"missing operationType, unknown operation", `{"batchOperationKey":"3","itemKey":"9","state":"ACTIVE"}`,
			1, 1, "operationType", "", "or its batch operation stored or earlier in the file"},
		{"missing operationType, operation later in file", `{"batchOperationKey":"3","itemKey":"9","state":"ACTIVE"}` + "\n" + `{"batchOperationKey":"3","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`,
			1, 1, "operationType", "", "is missing"},
		{"missing type on new batch", `{"id":"new","totalJobs":3}`, 1, 1, "type", "", "a new batch needs it"},
		{"earlier missing field wins over later syntax error", `{"batchOperationKey":"3","itemKey":"9","state":"ACTIVE"}` + "\n" + item("1") + "\n{",
			1, 1, "operationType", "", "is missing"},

		{"count too large", `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE","operationsTotalCount":2147483648}`,
			1, 1, "operationsTotalCount", "2147483648", "must be an integer from 0 to 2147483647"},
		{"negative count", `{"id":"b","type":"t","totalJobs":-1}`, 1, 1, "totalJobs", "-1", "must be an integer from 0 to 2147483647"},
		{"fractional count", `{"id":"b","type":"t","totalJobs":1.0}`, 1, 1, "totalJobs", "1.0", "must be an integer"},
		{"count as string", `{"id":"b","type":"t","totalJobs":"250"}`, 1, 1, "totalJobs", `"250"`, "not a string"},
		{"null count", `{"id":"b","type":"t","totalJobs":null}`, 1, 1, "totalJobs", "null", "must not be null"},
		{"null type", `{"id":"b","type":null,"totalJobs":1}`, 1, 1, "type", "null", "must not be null"},
		{"suspended not a boolean", `{"id":"b","type":"t","totalJobs":1,"suspended":"yes"}`, 1, 1, "suspended", `"yes"`, "must be true or false"},
		{"statistics count null", `{"id":"b","type":"t","totalJobs":1,"failedJobs":null}`, 1, 1, "failedJobs", "null", "must not be null"},
		{"long value is shortened", `{"batchOperationKey":"2","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"` + strings.Repeat("X", 200) + `"}`,
			1, 1, "state", `"` + strings.Repeat("X", 76) + "…", "unknown BatchOperationState"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := impOpen(t)
			impRun(t, s, impFixture("c8_operation.json"))
			impRun(t, s, impFixture("c7_batch.json"))
			before, snap := impDigest(t, s), impSnap(t, s)
			path := impFile(t, "bad.json", c.content)
			st, err := File(context.Background(), s, path, Options{BatchSize: 1})
			require.Error(t, err)
			assert.Nil(t, st)
			var ie *Error
			require.True(t, errors.As(err, &ie), "%T %v", err, err)
			assert.Equal(t, path, ie.File)
			assert.Equal(t, c.record, ie.Record, "record: %v", err)
			assert.Equal(t, c.line, ie.Line, "line: %v", err)
			assert.Equal(t, c.field, ie.Field, "field: %v", err)
			assert.Equal(t, c.value, ie.Value, "value: %v", err)
			assert.Contains(t, ie.Reason, c.reason)
			assert.Equal(t, before, impDigest(t, s), "database unchanged")
			assert.Equal(t, snap, impSnap(t, s))
		})
	}
}

func TestImportErrorMessage(t *testing.T) {
	s := impOpen(t)
	lines := make([]string, 16)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"batchOperationKey":"%d","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`, i+1)
	}
	lines = append(lines, `{"batchOperationKey":"17","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"DONE"}`)
	dir := t.TempDir()
	path := filepath.Join(dir, "data.json")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600))
	_, err := File(context.Background(), s, path, Options{})
	require.Error(t, err)
	assert.Equal(t, "import "+path+` record 17 (line 17): field "state": value "DONE": unknown BatchOperationState `+
		`(want one of CREATED, ACTIVE, SUSPENDED, COMPLETED, PARTIALLY_COMPLETED, CANCELED, FAILED)`, err.Error())

	e := &Error{File: "-", Record: 3, Reason: "record of no known kind: it has no fields"}
	assert.Equal(t, "import - record 3: record of no known kind: it has no fields", e.Error())
	e = &Error{File: "f", Record: 1, Line: 2, Field: "state", Reason: "is missing"}
	assert.Equal(t, `import f record 1 (line 2): field "state": is missing`, e.Error())
}

func TestImportPartialRecordsAgainstStore(t *testing.T) {
	s := impOpen(t)
	impRun(t, s, impFixture("c8_operations_search.json"))
	impRun(t, s, impFixture("c7_batch.json"))
	// 8.8 items take the stored operation's type; partial records of
	// stored records need nothing else.
	st := impRun(t, s, impFile(t, "p.ndjson", strings.Join([]string{
		`{"batchOperationKey":"2251799813685301","itemKey":"1","state":"ACTIVE"}`,
		`{"batchOperationKey":"2251799813685301","itemKey":"1"}`,
		`{"batchOperationKey":"2251799813685377","batchOperationType":"MIGRATE_PROCESS_INSTANCE","operationsFailedCount":2}`,
		`{"id":"3f0c8a52-1b2d-11ef-8a4e-0242ac130003","totalJobs":251}`,
	}, "\n")))
	// the second item record repeats the first's values: unchanged
	assert.Equal(t, map[string]KindCounts{KindItem: {New: 1, Unchanged: 1}, KindBatchOperation: {Updated: 1}, KindBatch: {Updated: 1}}, impCounts(st))
	snap := impSnap(t, s)
	assert.Equal(t, storage.OperationType("MIGRATE_PROCESS_INSTANCE"), snap.Items["2251799813685301/1"].OperationType)
	assert.Equal(t, storage.OperationState("SUSPENDED"), snap.Ops["2251799813685377"].State)
	assert.Equal(t, 2, snap.Ops["2251799813685377"].OperationsFailedCount)
	assert.Equal(t, 251, snap.Batches["3f0c8a52-1b2d-11ef-8a4e-0242ac130003"].TotalJobs)
	assert.Equal(t, "instance-migration", snap.Batches["3f0c8a52-1b2d-11ef-8a4e-0242ac130003"].Type)
	checkConsistent(t, s)
}

// impWriteItems writes n item records of 100 operations, as NDJSON or as
// one search response.
func impWriteItems(tb testing.TB, path string, n int, searchResponse bool) {
	tb.Helper()
	f, err := os.Create(path)
	require.NoError(tb, err)
	w := bufio.NewWriterSize(f, 1<<20)
	if searchResponse {
		w.WriteString(`{"items":[`)
	}
	states := []string{"ACTIVE", "COMPLETED", "FAILED", "SKIPPED", "CANCELED"}
	for i := 0; i < n; i++ {
		if searchResponse && i > 0 {
			w.WriteString(",\n")
		}
		op := 2251799813685000 + i%100
		item := 2251799813700000 + i
		date := "null"
		if i%5 != 0 {
			date = `"2025-06-04T11:` + fmt.Sprintf("%02d:%02d.%03dZ", i/60%60, i%60, i%1000) + `"`
		}
		fmt.Fprintf(w, `{"operationType":"CANCEL_PROCESS_INSTANCE","batchOperationKey":"%d","itemKey":"%d","processInstanceKey":"%d",`+
			`"rootProcessInstanceKey":null,"state":"%s","processedDate":%s,"errorMessage":null}`, op, item, item, states[i%5], date)
		if !searchResponse {
			w.WriteByte('\n')
		}
	}
	if searchResponse {
		fmt.Fprintf(w, `],"page":{"totalItems":%d,"hasMoreTotalItems":false,"startCursor":"WyJhIl0=","endCursor":"WyJiIl0="}}`, n)
	}
	require.NoError(tb, w.Flush())
	require.NoError(tb, f.Close())
}

func TestImportLargeSearchResponse(t *testing.T) {
	const n = 50000
	s := impOpen(t)
	path := filepath.Join(t.TempDir(), "items.json")
	impWriteItems(t, path, n, true)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	var phases []Progress
	st, err := File(context.Background(), s, path, Options{BatchSize: 7000, Progress: func(p Progress) {
		phases = append(phases, p)
	}})
	require.NoError(t, err)
	assert.Equal(t, int64(n), st.Records)
	assert.Equal(t, map[string]KindCounts{KindItem: {New: n}}, impCounts(st))
	require.NoError(t, s.View(context.Background(), func(r *storage.Reader) error {
		c := r.Counters()
		assert.Equal(t, int64(n), c["i"])
		it, err := r.Item("2251799813685042", "2251799813749942")
		require.NoError(t, err)
		require.NotNil(t, it)
		assert.Equal(t, storage.ItemState("FAILED"), it.State)
		return nil
	}))
	// progress: phase ends are reported with the whole file
	require.NotEmpty(t, phases)
	var ends []Progress
	for i, p := range phases {
		if i+1 == len(phases) || phases[i+1].Phase != p.Phase {
			ends = append(ends, p)
		}
	}
	assert.Equal(t, []Progress{
		{Phase: "check", Records: n, Bytes: fi.Size(), TotalBytes: fi.Size()},
		{Phase: "write", Records: n, Bytes: fi.Size(), TotalBytes: fi.Size()},
	}, ends)
	checkConsistent(t, s)
}

func TestImportReader(t *testing.T) {
	s := impOpen(t)
	data, err := os.ReadFile(impFixture("c8_items.ndjson"))
	require.NoError(t, err)
	st, err := Reader(context.Background(), s, "-", bytes.NewReader(data), Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(5), st.Records)
	assert.Equal(t, map[string]KindCounts{KindItem: {New: 5}}, impCounts(st))

	_, err = Reader(context.Background(), s, "-", iotest.OneByteReader(strings.NewReader(`{"x":1}`)), Options{})
	var ie *Error
	require.True(t, errors.As(err, &ie))
	assert.Equal(t, "-", ie.File)
	assert.True(t, strings.HasPrefix(err.Error(), "import - record 1 (line 1): record of no known kind"), err.Error())

	_, err = Reader(context.Background(), s, "-", iotest.ErrReader(errors.New("pipe broke")), Options{})
	assert.ErrorContains(t, err, "import -: read: pipe broke")
}

func TestImportCanceled(t *testing.T) {
	s := impOpen(t)
	before := impDigest(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := File(ctx, s, impFixture("c8_items.ndjson"), Options{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, impDigest(t, s))

	_, err = File(context.Background(), s, filepath.Join(t.TempDir(), "nope.json"), Options{})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// A write pass stopped part-way leaves a consistent database, and importing
// again completes it to the same state as one clean import.
func TestImportResumesAfterInterruption(t *testing.T) {
	const n = 3000
	path := filepath.Join(t.TempDir(), "items.ndjson")
	impWriteItems(t, path, n, false)

	clean := impOpen(t)
	impRun(t, clean, path)

	s := impOpen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first report of a phase comes after 64 records: the first
	// transaction of 50 is committed, the second is rolled back.
	_, err := File(ctx, s, path, Options{BatchSize: 50, Progress: func(p Progress) {
		if p.Phase == "write" {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	var stored int64
	require.NoError(t, s.View(context.Background(), func(r *storage.Reader) error {
		stored = r.Counters()["i"]
		return nil
	}))
	assert.Equal(t, int64(50), stored, "whole transactions only")
	checkConsistent(t, s)

	st := impRun(t, s, path)
	assert.Equal(t, KindCounts{New: n - stored, Unchanged: stored}, *st.Kinds[KindItem])
	assert.Equal(t, impSnap(t, clean), impSnap(t, s))
	checkConsistent(t, s)
}

// With Options.Apply the write pass hands its patches to Apply (at most
// BatchSize at a time) instead of writing the store. Applied to the same
// store, as the replication apply does with --nats, the import gives the
// same counts and the same database as a direct one (a write of its own
// would leave Apply nothing new to count). An Apply error stops the
// import.
func TestImportThroughApply(t *testing.T) {
	direct, target := impOpen(t), impOpen(t)
	source := target
	var calls, most int
	apply := func(ctx context.Context, ps []*Patch) (Counts, error) {
		calls++
		most = max(most, len(ps))
		c := Counts{}
		err := target.Update(ctx, func(w *storage.Writer) error {
			for _, p := range ps {
				out, err := p.Apply(w)
				if err != nil {
					return err
				}
				c.Add(p, out)
			}
			return nil
		})
		return c, err
	}
	for _, f := range impAll {
		want := impRun(t, direct, impFixture(f))
		got, err := File(context.Background(), source, impFixture(f), Options{BatchSize: 2, Apply: apply})
		require.NoError(t, err, f)
		assert.Equal(t, want.Records, got.Records, f)
		assert.Equal(t, want.Kinds, got.Kinds, f)
	}
	assert.Equal(t, impDigest(t, direct), impDigest(t, target), "the same database")
	assert.Equal(t, 2, most, "BatchSize patches at a time")
	assert.Greater(t, calls, len(impAll))

	boom := errors.New("stream down")
	_, err := File(context.Background(), source, impFixture("c8_items.ndjson"), Options{Apply: func(context.Context, []*Patch) (Counts, error) {
		return nil, boom
	}})
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "c8_items.ndjson")
}
