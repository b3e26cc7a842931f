package graph

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/globalid"
)

func TestBatchRootField(t *testing.T) {
	e := fixtureEnv(t)
	data := e.query(`{ batch(batchId: "1") {
		id batchId type totalJobs jobsCreated batchJobsPerSeed invocationsPerBatchJob
		seedJobDefinitionId monitorJobDefinitionId batchJobDefinitionId suspended tenantId createUserId
		startTime executionStartTime endTime removalTime completed
		statistics { remainingJobs completedJobs failedJobs } } }`, nil)
	assert.Equal(t, map[string]any{
		"id": globalid.Batch("1"), "batchId": "1", "type": "instance-migration", "totalJobs": 10.0, "jobsCreated": 10.0,
		"batchJobsPerSeed": 100.0, "invocationsPerBatchJob": 1.0,
		"seedJobDefinitionId": "seed-1", "monitorJobDefinitionId": "monitor-1", "batchJobDefinitionId": "job-1",
		"suspended": false, "tenantId": nil, "createUserId": "demo",
		// UTC, milliseconds, truncated (not rounded)
		"startTime": "2024-05-14T07:12:03.417Z", "executionStartTime": "2024-05-14T07:12:05.900Z",
		"endTime": nil, "removalTime": nil, "completed": false,
		"statistics": map[string]any{"remainingJobs": 4.0, "completedJobs": 6.0, "failedJobs": 2.0},
	}, data["batch"])

	data = e.query(`{ batch(batchId: "10") { completed endTime removalTime statistics { failedJobs } jobsCreated } }`, nil)
	assert.Equal(t, map[string]any{"completed": true, "endTime": "2024-05-12T12:00:42.775Z",
		"removalTime": "2024-05-19T12:00:42.775Z", "statistics": nil, "jobsCreated": nil}, data["batch"])

	data = e.query(`{ batch(batchId: "nope") { batchId } }`, nil)
	assert.Nil(t, data["batch"])
}

func TestBatchOperationRootField(t *testing.T) {
	e := fixtureEnv(t)
	data := e.query(`query($k: ID!) { batchOperation(batchOperationKey: $k) {
		id batchOperationKey batchOperationType state startDate endDate actorType actorId
		operationsTotalCount operationsFailedCount operationsCompletedCount
		errors { partitionId type message } } }`, map[string]any{"k": opB})
	assert.Equal(t, map[string]any{
		"id": globalid.Operation(opB), "batchOperationKey": opB, "batchOperationType": "CANCEL_PROCESS_INSTANCE",
		"state": "PARTIALLY_COMPLETED", "startDate": "2025-06-04T11:13:43.123Z", "endDate": "2025-06-04T11:14:02.870Z",
		"actorType": "USER", "actorId": "demo",
		"operationsTotalCount": 3.0, "operationsFailedCount": 1.0, "operationsCompletedCount": 2.0,
		"errors": []any{map[string]any{"partitionId": 2.0, "type": "QUERY_FAILED", "message": "Failed to query process instances"}},
	}, data["batchOperation"])

	data = e.query(`{ batchOperation(batchOperationKey: "8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13") {
		batchOperationType actorType actorId errors { type } } }`, nil)
	assert.Equal(t, map[string]any{"batchOperationType": "ADD_VARIABLE", "actorType": nil, "actorId": nil,
		"errors": []any{}}, data["batchOperation"])

	data = e.query(`{ batchOperation(batchOperationKey: "12345") { id } }`, nil)
	assert.Nil(t, data["batchOperation"])
}

func TestBatchOperationItemsRootField(t *testing.T) {
	e := fixtureEnv(t)
	data := e.query(`{ batchOperationItems(filter: {batchOperationKey: {eq: "2251799813685249"}, itemKey: {eq: "2251799813690746"}}) {
		totalCount
		nodes { id batchOperationKey itemKey operationType processInstanceKey rootProcessInstanceKey state
			processedDate errorMessage batchOperation { batchOperationKey state } } } }`, nil)
	assert.Equal(t, 1.0, at(t, data, "batchOperationItems", "totalCount"))
	assert.Equal(t, map[string]any{
		"id": globalid.Item(opB, itemB1), "batchOperationKey": opB, "itemKey": itemB1, "operationType": "CANCEL_PROCESS_INSTANCE",
		"processInstanceKey": itemB1, "rootProcessInstanceKey": "2251799813690700", "state": "FAILED",
		"processedDate":  "2025-06-04T11:13:59.004Z",
		"errorMessage":   "Expected to cancel a process instance, but it is a child process instance.",
		"batchOperation": map[string]any{"batchOperationKey": opB, "state": "PARTIALLY_COMPLETED"},
	}, at(t, data, "batchOperationItems", "nodes", 0))

	// batchOperation is resolved for a whole page at once, null where the
	// operation is not imported.
	data = e.query(`{ batchOperationItems(filter: {batchOperationKey: {notIn: ["100"]}}) {
		nodes { batchOperationKey itemKey batchOperation { batchOperationKey } }
		edges { node { batchOperation { state } } } } }`, nil)
	assert.Equal(t, []string{label(opMissing, "1"), label(opB, "5"), label(opB, itemB1), label(opB, itemB2)},
		itemLabels(t, data, "batchOperationItems", "nodes"))
	nodes := at(t, data, "batchOperationItems", "nodes").([]any)
	assert.Nil(t, at(t, nodes[0], "batchOperation"))
	for _, n := range nodes[1:] {
		assert.Equal(t, opB, at(t, n, "batchOperation", "batchOperationKey"))
	}
	assert.Nil(t, at(t, data, "batchOperationItems", "edges", 0, "node", "batchOperation"))
	assert.Equal(t, "PARTIALLY_COMPLETED", at(t, data, "batchOperationItems", "edges", 3, "node", "batchOperation", "state"))
}

func TestConnectionShape(t *testing.T) {
	e := fixtureEnv(t)
	data := e.query(`{ batches(first: 2) {
		totalCount
		edges { cursor node { batchId } }
		nodes { batchId }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`, nil)
	c := at(t, data, "batches")
	assert.Equal(t, 5.0, at(t, c, "totalCount"))
	assert.Equal(t, []string{"1", "2"}, pluck(t, c, "batchId", "nodes"))
	edges := at(t, c, "edges").([]any)
	require.Len(t, edges, 2)
	assert.Equal(t, "1", at(t, edges[0], "node", "batchId"))
	assert.Equal(t, at(t, edges[0], "cursor"), at(t, c, "pageInfo", "startCursor"))
	assert.Equal(t, at(t, edges[1], "cursor"), at(t, c, "pageInfo", "endCursor"))
	assert.Equal(t, true, at(t, c, "pageInfo", "hasNextPage"))
	assert.Equal(t, false, at(t, c, "pageInfo", "hasPreviousPage"))

	// Default page size is 20; first: 0 gives an empty page with null cursors.
	data = e.query(`{ batchOperationItems { totalCount nodes { itemKey } } }`, nil)
	assert.Equal(t, 104.0, at(t, data, "batchOperationItems", "totalCount"))
	assert.Len(t, at(t, data, "batchOperationItems", "nodes"), 20)
	data = e.query(`{ batches(first: 0) { totalCount nodes { batchId } pageInfo { startCursor endCursor } } }`, nil)
	assert.Equal(t, map[string]any{"totalCount": 5.0, "nodes": []any{},
		"pageInfo": map[string]any{"startCursor": nil, "endCursor": nil}}, data["batches"])

	// totalCount ignores cursors and page size, also when asked in a fragment.
	data = e.query(`{ batches(first: 1, filter: {tenantId: {eq: "tenant-a"}}) { ...C } }
		fragment C on BatchConnection { totalCount nodes { batchId } }`, nil)
	assert.Equal(t, 2.0, at(t, data, "batches", "totalCount"))
	assert.Equal(t, []string{"2"}, pluck(t, data, "batchId", "batches", "nodes"))
}

func TestBatchFilters(t *testing.T) {
	e := fixtureEnv(t)
	tests := []struct {
		filter string
		want   []string
	}{
		{`{}`, []string{"1", "2", "10", uuidBatch, "abc"}},
		{`{batchId: {eq: "10"}}`, []string{"10"}},
		{`{batchId: {neq: "1"}}`, []string{"2", "10", uuidBatch, "abc"}},
		{`{batchId: {in: ["2", "abc", "zzz"]}}`, []string{"2", "abc"}},
		{`{batchId: {in: []}}`, []string{}},
		{`{batchId: {notIn: ["1", "2"]}}`, []string{"10", uuidBatch, "abc"}},
		{`{batchId: {exists: true}}`, []string{"1", "2", "10", uuidBatch, "abc"}},
		{`{batchId: {like: "3f0c*"}}`, []string{uuidBatch}},
		{`{batchId: {like: "?"}}`, []string{"1", "2"}},
		{`{type: {eq: "instance-migration"}}`, []string{"1", uuidBatch}},
		{`{type: {like: "instance-*"}}`, []string{"1", "2", uuidBatch}},
		{`{type: {notIn: ["instance-migration", "custom-type"]}}`, []string{"2", "10"}},
		{`{tenantId: {in: ["tenant-a"]}}`, []string{"2", uuidBatch}},
		{`{tenantId: {exists: false}}`, []string{"1", "abc"}},
		{`{tenantId: {exists: true}}`, []string{"2", "10", uuidBatch}},
		{`{tenantId: {neq: "tenant-a"}}`, []string{"10"}}, // SQL: null does not match neq
		{`{tenantId: {notIn: ["tenant-b"]}}`, []string{"2", uuidBatch}},
		{`{tenantId: {like: "*-b"}}`, []string{"10"}},
		{`{createUserId: {eq: "demo"}}`, []string{"1", uuidBatch}},
		{`{createUserId: {exists: false}}`, []string{"10", "abc"}},
		{`{suspended: true}`, []string{"2"}},
		{`{suspended: false}`, []string{"1", "10", uuidBatch, "abc"}},
		{`{completed: true}`, []string{"10", uuidBatch}},
		{`{completed: false}`, []string{"1", "2", "abc"}},
		{`{startTime: {gte: "2024-05-13T10:00:00Z"}}`, []string{"1", "2", "abc"}},
		{`{startTime: {gte: "2024-05-13T12:00:00+02:00"}}`, []string{"1", "2", "abc"}},
		{`{startTime: {gt: "2024-05-13T10:00:00Z", lt: "2024-05-16T00:00:00Z"}}`, []string{"1"}},
		{`{startTime: {eq: "2024-05-12T12:00:10.021Z"}}`, []string{"10"}},
		{`{startTime: {lte: "2024-05-13T10:00:00.000000000Z"}}`, []string{"2", "10"}},
		{`{startTime: {exists: false}}`, []string{uuidBatch}},
		{`{endTime: {exists: true}}`, []string{"10", uuidBatch}},
		{`{endTime: {gt: "2024-05-13T00:00:00Z"}}`, []string{uuidBatch}},
		{`{failedJobs: {gt: 0}}`, []string{"1", "abc"}},
		{`{failedJobs: {eq: 0}}`, []string{"2"}},
		{`{failedJobs: {gte: 2, lt: 5}}`, []string{"1"}},
		{`{failedJobs: {lte: 2}}`, []string{"1", "2"}},
		{`{failedJobs: {neq: 2}}`, []string{"2", "abc"}}, // batches without statistics never match
		{`{type: {like: "instance-*"}, tenantId: {in: ["tenant-a"]}}`, []string{"2", uuidBatch}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			data := e.query(`{ batches(filter: `+tt.filter+`) { totalCount nodes { batchId } } }`, nil)
			assert.Equal(t, tt.want, pluck(t, data, "batchId", "batches", "nodes"))
			assert.Equal(t, float64(len(tt.want)), at(t, data, "batches", "totalCount"))
		})
	}
}

func TestBatchOrder(t *testing.T) {
	e := fixtureEnv(t)
	tests := []struct {
		orderBy string
		want    []string
	}{
		{`[]`, []string{"1", "2", "10", uuidBatch, "abc"}},
		{`[{field: BATCH_ID}]`, []string{"1", "2", "10", uuidBatch, "abc"}},
		{`[{field: BATCH_ID, direction: DESC}]`, []string{"abc", uuidBatch, "10", "2", "1"}},
		{`[{field: TYPE}]`, []string{"abc", "2", "1", uuidBatch, "10"}},
		{`[{field: TYPE, direction: DESC}]`, []string{"10", uuidBatch, "1", "2", "abc"}},
		{`[{field: TENANT_ID}]`, []string{"2", uuidBatch, "10", "1", "abc"}},
		{`[{field: TENANT_ID, direction: DESC}]`, []string{"abc", "1", "10", uuidBatch, "2"}},
		{`[{field: START_TIME, direction: ASC}]`, []string{"10", "2", "1", "abc", uuidBatch}},
		{`[{field: START_TIME, direction: DESC}]`, []string{uuidBatch, "abc", "1", "2", "10"}},
		{`[{field: END_TIME}]`, []string{"10", uuidBatch, "1", "2", "abc"}},
		{`[{field: TENANT_ID}, {field: START_TIME, direction: DESC}]`, []string{uuidBatch, "2", "10", "abc", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.orderBy, func(t *testing.T) {
			data := e.query(`{ batches(orderBy: `+tt.orderBy+`) { nodes { batchId } } }`, nil)
			assert.Equal(t, tt.want, pluck(t, data, "batchId", "batches", "nodes"))
		})
	}
}

func TestBatchOperationFilters(t *testing.T) {
	e := fixtureEnv(t)
	all := []string{opA, opB, opC, opD, opL}
	tests := []struct {
		filter string
		want   []string
	}{
		{`{}`, all},
		{`{batchOperationKey: {eq: "2251799813685249"}}`, []string{opB}},
		{`{batchOperationKey: {in: ["100", "8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13"]}}`, []string{opA, opL}},
		{`{batchOperationKey: {like: "22517998136852*"}}`, []string{opB, opC}},
		{`{batchOperationKey: {notIn: ["100", "2251799813685249"]}}`, []string{opC, opD, opL}},
		{`{batchOperationKey: {neq: "100"}}`, []string{opB, opC, opD, opL}},
		{`{batchOperationKey: {exists: true}}`, all},
		{`{operationType: {eq: MIGRATE_PROCESS_INSTANCE}}`, []string{opC}},
		{`{operationType: {in: [CANCEL_PROCESS_INSTANCE, ADD_VARIABLE]}}`, []string{opB, opL}},
		{`{operationType: {neq: RESOLVE_INCIDENT}}`, []string{opB, opC, opD, opL}},
		{`{operationType: {notIn: [CANCEL_PROCESS_INSTANCE, MIGRATE_PROCESS_INSTANCE]}}`, []string{opA, opD, opL}},
		{`{state: {eq: COMPLETED}}`, []string{opA, opL}},
		{`{state: {in: [ACTIVE, CREATED]}}`, []string{opC, opD}},
		{`{state: {neq: COMPLETED}}`, []string{opB, opC, opD}},
		{`{state: {notIn: [COMPLETED, ACTIVE]}}`, []string{opB, opD}},
		{`{actorType: {eq: USER}}`, []string{opB}},
		{`{actorType: {neq: USER}}`, []string{opC, opD}}, // null actor types do not match neq
		{`{actorType: {in: [CLIENT, ANONYMOUS]}}`, []string{opC, opD}},
		{`{actorType: {notIn: [USER]}}`, []string{opC, opD}},
		{`{actorId: {eq: "demo"}}`, []string{opB}},
		{`{actorId: {exists: false}}`, []string{opA, opD, opL}},
		{`{actorId: {like: "*client"}}`, []string{opC}},
		{`{startDate: {gte: "2025-06-04T00:00:00Z"}}`, []string{opB, opC}},
		{`{startDate: {exists: false}}`, []string{opD}},
		{`{startDate: {lt: "2025-01-01T00:00:00Z"}}`, []string{opL}},
		{`{endDate: {exists: false}}`, []string{opC, opD}},
		{`{endDate: {eq: "2025-06-04T13:14:02.87+02:00"}}`, []string{opB}},
		{`{endDate: {gt: "2025-06-04T11:14:02.870Z"}}`, []string{}},
		{`{hasErrors: true}`, []string{opB, opD}},
		{`{hasErrors: false}`, []string{opA, opC, opL}},
		{`{operationsFailedCount: {gt: 0}}`, []string{opB}},
		{`{operationsFailedCount: {eq: 0}}`, []string{opA, opC, opD, opL}},
		{`{operationsFailedCount: {lt: 1}, state: {eq: COMPLETED}}`, []string{opA, opL}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			data := e.query(`{ batchOperations(filter: `+tt.filter+`) { totalCount nodes { batchOperationKey } } }`, nil)
			assert.Equal(t, tt.want, pluck(t, data, "batchOperationKey", "batchOperations", "nodes"))
			assert.Equal(t, float64(len(tt.want)), at(t, data, "batchOperations", "totalCount"))
		})
	}
}

func TestBatchOperationOrder(t *testing.T) {
	e := fixtureEnv(t)
	tests := []struct {
		orderBy string
		want    []string
	}{
		{`[{field: BATCH_OPERATION_KEY}]`, []string{opA, opB, opC, opD, opL}},
		{`[{field: BATCH_OPERATION_KEY, direction: DESC}]`, []string{opL, opD, opC, opB, opA}},
		{`[{field: OPERATION_TYPE}]`, []string{opL, opB, opD, opC, opA}},
		{`[{field: STATE}]`, []string{opC, opA, opL, opD, opB}},
		{`[{field: STATE, direction: DESC}]`, []string{opB, opD, opL, opA, opC}},
		{`[{field: START_DATE}]`, []string{opL, opA, opB, opC, opD}},
		{`[{field: END_DATE, direction: DESC}]`, []string{opD, opC, opB, opA, opL}},
		{`[{field: ACTOR_TYPE}]`, []string{opD, opC, opB, opA, opL}},
		{`[{field: ACTOR_ID}]`, []string{opB, opC, opA, opD, opL}},
		{`[{field: STATE}, {field: START_DATE, direction: DESC}]`, []string{opC, opA, opL, opD, opB}},
	}
	for _, tt := range tests {
		t.Run(tt.orderBy, func(t *testing.T) {
			data := e.query(`{ batchOperations(orderBy: `+tt.orderBy+`) { nodes { batchOperationKey } } }`, nil)
			assert.Equal(t, tt.want, pluck(t, data, "batchOperationKey", "batchOperations", "nodes"))
		})
	}
}

func TestBatchOperationItemFilters(t *testing.T) {
	e := fixtureEnv(t)
	x, b5, b1, b2 := label(opMissing, "1"), label(opB, "5"), label(opB, itemB1), label(opB, itemB2)
	tests := []struct {
		filter string
		want   []string
	}{
		{`{batchOperationKey: {notIn: ["100"]}}`, []string{x, b5, b1, b2}},
		{`{batchOperationKey: {eq: "2251799813685249"}}`, []string{b5, b1, b2}},
		{`{batchOperationKey: {in: ["999", "1"]}}`, []string{x}},
		{`{itemKey: {eq: "5"}}`, []string{label(opA, "5"), b5}},
		{`{itemKey: {in: ["2251799813690746", "1"]}}`, []string{label(opA, "1"), x, b1}},
		{`{itemKey: {like: "22517998136907??"}}`, []string{b1}},
		{`{processInstanceKey: {eq: "2251799813690801"}}`, []string{b2}},
		{`{processInstanceKey: {exists: false}}`, []string{x, b5}},
		{`{processInstanceKey: {like: "100?"}}`, opAItems(1, 9)},
		{`{processInstanceKey: {in: ["1050", "2251799813690746"]}}`, []string{label(opA, "50"), b1}},
		{`{rootProcessInstanceKey: {eq: "2251799813690700"}}`, []string{b1}},
		{`{rootProcessInstanceKey: {exists: true}, batchOperationKey: {notIn: ["100"]}}`, []string{b1}},
		{`{rootProcessInstanceKey: {neq: "1000"}}`, []string{b1}},
		{`{operationType: {eq: DELETE_DECISION_INSTANCE}}`, []string{x}},
		{`{operationType: {in: [CANCEL_PROCESS_INSTANCE]}}`, []string{b5, b1, b2}},
		{`{operationType: {notIn: [RESOLVE_INCIDENT]}}`, []string{x, b5, b1, b2}},
		{`{state: {eq: SKIPPED}}`, []string{b5}},
		{`{state: {in: [FAILED]}, batchOperationKey: {eq: "2251799813685249"}}`, []string{b1}},
		{`{state: {neq: ACTIVE}, batchOperationKey: {notIn: ["100"]}}`, []string{x, b5, b1}},
		{`{state: {notIn: [ACTIVE, COMPLETED]}, batchOperationKey: {neq: "100"}}`, []string{b5, b1}},
		{`{processedDate: {exists: false}, batchOperationKey: {notIn: ["100"]}}`, []string{b2}},
		{`{processedDate: {gte: "2025-06-04T00:00:00Z"}}`, []string{b5, b1}},
		{`{processedDate: {lt: "2025-05-01T00:03:00Z"}}`, []string{label(opA, "1"), label(opA, "2")}},
		{`{processedDate: {eq: "2025-06-02T02:00:00+02:00"}}`, []string{x}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			data := e.query(`{ batchOperationItems(first: 1000, filter: `+tt.filter+`) {
				totalCount nodes { batchOperationKey itemKey } } }`, nil)
			assert.Equal(t, tt.want, itemLabels(t, data, "batchOperationItems", "nodes"))
			assert.Equal(t, float64(len(tt.want)), at(t, data, "batchOperationItems", "totalCount"))
		})
	}
}

func TestBatchOperationItemOrder(t *testing.T) {
	e := fixtureEnv(t)
	x, b5, b1, b2 := label(opMissing, "1"), label(opB, "5"), label(opB, itemB1), label(opB, itemB2)
	tests := []struct {
		orderBy string
		want    []string
	}{
		{`[]`, []string{x, b5, b1, b2}},
		{`[{field: BATCH_OPERATION_KEY, direction: DESC}]`, []string{b2, b1, b5, x}},
		{`[{field: ITEM_KEY}]`, []string{x, b5, b1, b2}},
		{`[{field: ITEM_KEY, direction: DESC}]`, []string{b2, b1, b5, x}},
		{`[{field: PROCESS_INSTANCE_KEY}]`, []string{b1, b2, x, b5}},
		{`[{field: STATE}]`, []string{b2, x, b1, b5}},
		{`[{field: PROCESSED_DATE}]`, []string{x, b1, b5, b2}},
		{`[{field: PROCESSED_DATE, direction: DESC}]`, []string{b2, b5, b1, x}},
	}
	for _, tt := range tests {
		t.Run(tt.orderBy, func(t *testing.T) {
			data := e.query(`{ batchOperationItems(filter: {batchOperationKey: {notIn: ["100"]}}, orderBy: `+tt.orderBy+`) {
				nodes { batchOperationKey itemKey } } }`, nil)
			assert.Equal(t, tt.want, itemLabels(t, data, "batchOperationItems", "nodes"))
		})
	}
}

func TestBatchOperationItemsOfOperation(t *testing.T) {
	e := fixtureEnv(t)
	data := e.query(`{ batchOperation(batchOperationKey: "100") { items(first: 10) { totalCount nodes { batchOperationKey itemKey } } } }`, nil)
	assert.Equal(t, opAItems(1, 10), itemLabels(t, data, "batchOperation", "items", "nodes"))
	assert.Equal(t, 100.0, at(t, data, "batchOperation", "items", "totalCount"))

	tests := []struct {
		filter string
		count  float64
		first  []string
	}{
		{`{state: {eq: FAILED}}`, 25, []string{label(opA, "1"), label(opA, "5")}},
		{`{batchOperationKey: {eq: "100"}}`, 100, opAItems(1, 2)},
		{`{batchOperationKey: {in: ["100", "2251799813685249"]}}`, 100, opAItems(1, 2)},
		{`{batchOperationKey: {like: "1*"}, itemKey: {in: ["7", "70"]}}`, 2, []string{label(opA, "7"), label(opA, "70")}},
		{`{batchOperationKey: {neq: "2251799813685249"}, processedDate: {exists: false}}`, 25, []string{label(opA, "3"), label(opA, "7")}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			data := e.query(`{ batchOperation(batchOperationKey: "100") { items(first: 2, filter: `+tt.filter+`) {
				totalCount nodes { batchOperationKey itemKey } } } }`, nil)
			assert.Equal(t, tt.first, itemLabels(t, data, "batchOperation", "items", "nodes"))
			assert.Equal(t, tt.count, at(t, data, "batchOperation", "items", "totalCount"))
		})
	}

	// The parent's key is implied: a contradicting condition is an error naming it.
	for _, f := range []struct{ filter, arg string }{
		{`{batchOperationKey: {eq: "2251799813685249"}}`, "filter.batchOperationKey.eq"},
		{`{batchOperationKey: {neq: "100"}}`, "filter.batchOperationKey.neq"},
		{`{batchOperationKey: {in: ["1", "2"]}}`, "filter.batchOperationKey.in"},
		{`{batchOperationKey: {notIn: ["100"]}}`, "filter.batchOperationKey.notIn"},
		{`{batchOperationKey: {exists: false}}`, "filter.batchOperationKey.exists"},
	} {
		t.Run("contradiction "+f.filter, func(t *testing.T) {
			err := e.queryErr(`{ batchOperation(batchOperationKey: "100") { batchOperationKey items(filter: `+f.filter+`) { totalCount } } }`, nil)
			assert.Equal(t, CodeBadUserInput, err.Code())
			assert.Contains(t, err.Message, `"`+f.arg+`"`)
			assert.Contains(t, err.Message, `"100"`)
			assert.Equal(t, []any{"batchOperation", "items"}, err.Path)
		})
	}

	// Several operations, each with its own items.
	data = e.query(`{ batchOperations(filter: {batchOperationKey: {in: ["100", "2251799813685249", "2251799813685250"]}}) {
		nodes { batchOperationKey items(first: 1) { totalCount nodes { batchOperationKey itemKey } } } } }`, nil)
	ops := at(t, data, "batchOperations", "nodes").([]any)
	require.Len(t, ops, 3)
	assert.Equal(t, []string{label(opA, "1")}, itemLabels(t, ops[0], "items", "nodes"))
	assert.Equal(t, []string{label(opB, "5")}, itemLabels(t, ops[1], "items", "nodes"))
	assert.Equal(t, []string{}, itemLabels(t, ops[2], "items", "nodes"))
	assert.Equal(t, []any{100.0, 3.0, 0.0}, []any{at(t, ops[0], "items", "totalCount"), at(t, ops[1], "items", "totalCount"), at(t, ops[2], "items", "totalCount")})
}
