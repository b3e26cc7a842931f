package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

// fastListsEnv serves the fixtures twice over one bbolt file: with the fast
// list path (e, counting the lists it wrote) and with gqlgen alone (slow).
type fastListsEnv struct {
	e     *env
	slow  *httptest.Server
	taken *atomic.Int64
}

func newFastListsEnv(t *testing.T) *fastListsEnv {
	t.Helper()
	taken := &atomic.Int64{}
	fastListsTaken = taken
	t.Cleanup(func() { fastListsTaken = nil })
	e := fixtureEnv(t)
	// Text that needs escaping, and every kind of null, in the lists.
	odd := "quote \" backslash \\ newline \n tab \t cr \r nul \x00 unit \x1f del \x7f é 😀 \u2028 </script>"
	require.NoError(t, e.store.Update(context.Background(), func(w *storage.Writer) error {
		at := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("x", 3600))
		if _, err := w.PutBatchOperation(&storage.BatchOperation{BatchOperationKey: "odd", BatchOperationType: "CANCEL_PROCESS_INSTANCE",
			State: "FAILED", StartDate: &at, ActorID: &odd, OperationsTotalCount: 2,
			Errors: []storage.BatchOperationError{{PartitionID: 1, Type: "QUERY_FAILED", Message: odd}, {PartitionID: 3, Type: "RESULT_BUFFER_SIZE_EXCEEDED", Message: ""}}}); err != nil {
			return err
		}
		for _, it := range []*storage.BatchOperationItem{
			{BatchOperationKey: "odd", ItemKey: "a:\"b", OperationType: "CANCEL_PROCESS_INSTANCE", State: "FAILED", ErrorMessage: &odd, ProcessedDate: &at, ProcessInstanceKey: &odd},
			{BatchOperationKey: "odd", ItemKey: "z", OperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE"},
		} {
			if _, err := w.PutItem(it); err != nil {
				return err
			}
		}
		_, err := w.PutBatch(&storage.Batch{BatchID: odd, Type: odd, TotalJobs: 0, TenantID: &odd, StartTime: &at})
		return err
	}))
	slow := httptest.NewServer(NewHandler(e.store, Config{gqlgenLists: true}, nil))
	t.Cleanup(slow.Close)
	return &fastListsEnv{e: e, slow: slow, taken: taken}
}

// both posts the request to both servers and returns their bodies.
func (f *fastListsEnv) both(t *testing.T, query string, vars map[string]any) (fast, slow string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	get := func(url string) string {
		resp, err := http.Post(url, "application/json", strings.NewReader(string(body)))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	return get(f.e.srv.URL), get(f.slow.URL)
}

const (
	allItemFields  = "__typename id batchOperationKey itemKey operationType processInstanceKey rootProcessInstanceKey state processedDate errorMessage"
	allOpFields    = "__typename id batchOperationKey batchOperationType state startDate endDate actorType actorId operationsTotalCount operationsFailedCount operationsCompletedCount errors { __typename partitionId type message }"
	allBatchFields = "__typename id batchId type totalJobs jobsCreated batchJobsPerSeed invocationsPerBatchJob seedJobDefinitionId monitorJobDefinitionId batchJobDefinitionId suspended tenantId createUserId startTime executionStartTime endTime removalTime completed statistics { __typename remainingJobs completedJobs failedJobs }"
)

func TestFastListsSameBytes(t *testing.T) {
	f := newFastListsEnv(t)
	vars := map[string]any{"yes": true, "no": false, "op": "odd", "n": 2, "c": nil}
	tests := []struct {
		name  string
		query string
		fast  bool // whether the fast path is expected to write the lists
		bad   bool // whether the query fails (in gqlgen's words, on both paths)
	}{
		{"items nodes", `{ batchOperationItems(first: 200) { nodes { ` + allItemFields + ` } } }`, true, false},
		{"items edges", `{ batchOperationItems(first: 200) { edges { __typename cursor node { ` + allItemFields + ` } } } }`, true, false},
		{"operation items", `query($op: ID!) { batchOperation(batchOperationKey: $op) { items { nodes { ` + allItemFields + ` } edges { cursor } } } }`, true, false},
		{"operations", `{ batchOperations(first: 100) { nodes { ` + allOpFields + ` } edges { cursor node { id } } } }`, true, false},
		{"batches", `{ batches(first: 100) { nodes { ` + allBatchFields + ` } edges { node { ` + allBatchFields + ` } cursor } } }`, true, false},
		{"aliases and repeats", `{ batchOperationItems(first: 50) { a: nodes { k: itemKey itemKey id: itemKey x: id id2: id state s: state } b: edges { c: cursor n: node { itemKey } node { state } } } }`, true, false},
		{"merged selections", `{ batchOperations(first: 50) { nodes { errors { message } errors { type message } e: errors { partitionId } } } }`, true, false},
		{"fragments", `query { batchOperationItems(first: 50) { nodes { ...F ... on BatchOperationItem { state } ... on Node { id } ... on _Entity { ... on BatchOperationItem { errorMessage } } } } }
			fragment F on BatchOperationItem { itemKey processedDate }`, true, false},
		{"skip and include", `query($yes: Boolean!, $no: Boolean!) { batches(first: 50) { nodes { batchId @include(if: $yes) type @include(if: $no) tenantId @skip(if: $yes) startTime @skip(if: $no) statistics @include(if: $yes) { failedJobs @skip(if: $yes) completedJobs } ... @include(if: $no) { totalJobs } } } }`, true, false},
		{"empty selection after skip", `query($yes: Boolean!) { batchOperationItems(first: 5) { nodes { itemKey @skip(if: $yes) } } }`, true, false},
		{"empty page", `{ batchOperationItems(filter: {itemKey: {eq: "none"}}) { nodes { itemKey } edges { cursor } } }`, true, false},
		{"with a resolver field", `{ batchOperationItems(first: 50) { nodes { itemKey batchOperation { state } } } }`, false, false},
		{"with processInstance", `{ batchOperationItems(first: 50) { nodes { itemKey processInstance { processInstanceKey } } } }`, false, false},
		{"operations with items", `{ batchOperations(first: 10) { nodes { id items(first: 3) { nodes { itemKey } } } } }`, true, false},
		{"operations with every items field", `{ batchOperations(first: 20) { edges { cursor node { id a: items(first: 2) { __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } nodes { ` + allItemFields + ` } edges { __typename cursor node { itemKey } } } b: items(last: 1) { totalCount edges { cursor } } items { pageInfo { endCursor } } } } } }`, true, false},
		{"items paged by variables", `query($n: Int, $c: String) { batchOperations(first: 10) { nodes { items(first: $n, after: $c) { totalCount nodes { itemKey } pageInfo { hasNextPage hasPreviousPage } } } } }`, true, false},
		{"items with a filter", `{ batchOperations(first: 10) { nodes { id items(first: 3, filter: {state: {eq: FAILED}}) { totalCount nodes { itemKey } } } } }`, true, false},
		{"items with a bad page size", `{ batchOperations(first: 10) { nodes { id items(first: -1) { nodes { itemKey } } } } }`, false, true},
		{"items with a garbled cursor", `{ batchOperations(first: 10) { nodes { id items(after: "garbage") { nodes { itemKey } } } } }`, false, true},
		{"items with first and last", `{ batchOperations(first: 10) { nodes { items(first: 1, last: 1) { nodes { itemKey } } } } }`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.taken.Load()
			fast, slow := f.both(t, tt.query, vars)
			if tt.bad { // gqlgen resolves the operations' items concurrently: errors come in any order
				fast, slow = sortedErrors(t, fast), sortedErrors(t, slow)
			}
			assert.Equal(t, slow, fast)
			var top struct{ Errors []any }
			require.NoError(t, json.Unmarshal([]byte(fast), &top))
			assert.Equal(t, tt.bad, len(top.Errors) > 0, "errors: %v", top.Errors)
			assert.Equal(t, tt.fast, f.taken.Load() > before, "fast path taken")
		})
	}
}

// sortedErrors re-encodes a response with its errors in path order.
func sortedErrors(t *testing.T, body string) string {
	t.Helper()
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &r))
	errs, _ := r["errors"].([]any)
	key := func(e any) string { b, _ := json.Marshal(e.(map[string]any)["path"]); return string(b) }
	slices.SortFunc(errs, func(a, b any) int { return strings.Compare(key(a), key(b)) })
	out, err := json.Marshal(r)
	require.NoError(t, err)
	return string(out)
}

// TestFastListsRandomSelections compares both outputs for random selection
// sets: field subsets in any order, aliases, repeats, fragments, directives.
func TestFastListsRandomSelections(t *testing.T) {
	f := newFastListsEnv(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		q := randomListQuery(r)
		fast, slow := f.both(t, q, map[string]any{"yes": true, "no": false})
		if !assert.Equal(t, slow, fast, "query %d: %s", i, q) {
			break
		}
		require.True(t, strings.HasPrefix(fast, `{"data":{`), "query %d must run: %s: %s", i, q, fast)
	}
	assert.Positive(t, f.taken.Load())
}

// FuzzFastLists: for any seed, both outputs are the same.
func FuzzFastLists(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(7), uint64(0))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		env := newFastListsEnv(t)
		q := randomListQuery(rand.New(rand.NewPCG(a, b)))
		fast, slow := env.both(t, q, map[string]any{"yes": true, "no": false})
		assert.Equal(t, slow, fast, "%s", q)
	})
}

var listFields = map[string][]string{
	"BatchOperationItem": strings.Fields(allItemFields),
	"BatchOperation":     append(strings.Fields("__typename id batchOperationKey batchOperationType state startDate endDate actorType actorId operationsTotalCount operationsFailedCount operationsCompletedCount"), "errors", "items"),
	"Batch":              append(strings.Fields("__typename id batchId type totalJobs jobsCreated batchJobsPerSeed invocationsPerBatchJob seedJobDefinitionId monitorJobDefinitionId batchJobDefinitionId suspended tenantId createUserId startTime executionStartTime endTime removalTime completed"), "statistics"),
}

var subFields = map[string]string{
	"errors":     "__typename partitionId type message",
	"statistics": "__typename remainingJobs completedJobs failedJobs",
}

func randomListQuery(r *rand.Rand) string {
	roots := []struct{ field, typ string }{
		{"batchOperationItems(first: 30)", "BatchOperationItem"},
		{"batchOperations(first: 30)", "BatchOperation"},
		{"batches(first: 30)", "Batch"},
	}
	root := roots[r.IntN(len(roots))]
	var frags []string
	sel := randomSelection(r, root.typ, 0, &frags)
	var list string
	if r.IntN(2) == 0 {
		list = "nodes { " + sel + " }"
	} else {
		list = "edges { " + pick(r, "cursor", "__typename", "c: cursor") + " node { " + sel + " } }"
	}
	// The variables are always used: GraphQL rejects unused ones.
	return "query($yes: Boolean!, $no: Boolean!) { " + root.field + " { " + list +
		" totalCount @include(if: $yes) pageInfo @skip(if: $no) { hasNextPage } } } " + strings.Join(frags, " ")
}

func randomSelection(r *rand.Rand, typ string, depth int, frags *[]string) string {
	fields := listFields[typ]
	var out []string
	for range 1 + r.IntN(8) {
		name := fields[r.IntN(len(fields))]
		f := name
		if r.IntN(4) == 0 { // an alias stands for one field only, or the query is invalid
			f = pick(r, "a", "b") + "_" + name + ": " + name
		}
		if r.IntN(6) == 0 {
			f += pick(r, " @include(if: $yes)", " @include(if: $no)", " @skip(if: $yes)", " @skip(if: $no)")
		}
		if name == "items" { // a connection: an alias per field name keeps arguments from conflicting
			args := pick(r, "", "(first: 2)", "(last: 1)", "(first: 0)", "(first: 40)", "(last: 3, before: null)")
			f = "i" + strconv.Itoa(r.IntN(1000)) + ": items" + args + " { " + randomConnection(r) + " }"
		} else if sub, ok := subFields[name]; ok {
			parts := strings.Fields(sub)
			r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
			f += " { " + strings.Join(parts[:1+r.IntN(len(parts))], " ") + " }"
		}
		out = append(out, f)
	}
	if depth < 2 {
		switch r.IntN(5) {
		case 0:
			out = append(out, "... on "+typ+" { "+randomSelection(r, typ, depth+1, frags)+" }")
		case 1:
			out = append(out, "... on Node { id }", "... on _Entity { __typename }")
		case 2:
			i := len(*frags)
			name := fmt.Sprintf("F%d", i)
			*frags = append(*frags, "") // the name is taken before nested fragments take theirs
			(*frags)[i] = "fragment " + name + " on " + typ + " { " + randomSelection(r, typ, depth+1, frags) + " }"
			out = append(out, "..."+name)
		case 3:
			out = append(out, "... @include(if: $no) { "+randomSelection(r, typ, depth+1, frags)+" }")
		}
	}
	return strings.Join(out, " ")
}

func randomConnection(r *rand.Rand) string {
	parts := []string{"totalCount", "__typename", "pageInfo { hasNextPage startCursor }", "pageInfo { endCursor hasPreviousPage __typename }",
		"nodes { " + randomSelection(r, "BatchOperationItem", 2, nil) + " }", "edges { cursor node { itemKey state } }",
		"totalCount @skip(if: $yes)", "nodes @include(if: $no) { id }"}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return strings.Join(parts[:1+r.IntN(len(parts))], " ")
}

func pick(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }
