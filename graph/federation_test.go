package graph

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

const entitiesQuery = `query($reps: [_Any!]!) { _entities(representations: $reps) {
	__typename
	... on Batch { id batchId }
	... on BatchOperation { id batchOperationKey }
	... on BatchOperationItem { id batchOperationKey itemKey }
	... on ProcessInstance { processInstanceKey }
} }`

// readTxns is how many read transactions (storage passes) the store has
// started so far.
func (e *env) readTxns() int { return e.store.DB().Stats().TxN }

// entities runs _entities over reps, requiring no errors, and returns the
// list and how many storage passes it took.
func (e *env) entities(query string, reps []map[string]any) ([]any, int) {
	e.t.Helper()
	before := e.readTxns()
	data := e.query(query, map[string]any{"reps": reps})
	passes := e.readTxns() - before
	list, ok := data["_entities"].([]any)
	require.True(e.t, ok, "%v", data)
	require.Len(e.t, list, len(reps))
	return list, passes
}

// entityLabel renders one _entities element: "Type:natural key", or "null".
func entityLabel(t *testing.T, v any) string {
	t.Helper()
	if v == nil {
		return "null"
	}
	m := v.(map[string]any)
	switch typ := m["__typename"]; typ {
	case "Batch":
		return "Batch:" + m["batchId"].(string)
	case "BatchOperation":
		return "BatchOperation:" + m["batchOperationKey"].(string)
	case "BatchOperationItem":
		return "BatchOperationItem:" + label(m["batchOperationKey"].(string), m["itemKey"].(string))
	case "ProcessInstance":
		return "ProcessInstance:" + m["processInstanceKey"].(string)
	default:
		t.Fatalf("unexpected __typename %v", typ)
		return ""
	}
}

func entityLabels(t *testing.T, list []any) []string {
	t.Helper()
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = entityLabel(t, v)
	}
	return out
}

// entitySpy counts the calls of the multi entity resolvers and their sizes.
type entitySpy struct {
	*Resolver
	mu    sync.Mutex
	calls map[string][]int // resolver name → len(reps) of each call
}

func (s *entitySpy) Entity() generated.EntityResolver {
	return &spyEntityResolver{entityResolver{s.Resolver}, s}
}

func (s *entitySpy) record(name string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls = map[string][]int{}
	}
	s.calls[name] = append(s.calls[name], n)
}

func (s *entitySpy) reset() map[string][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

type spyEntityResolver struct {
	entityResolver
	spy *entitySpy
}

func (r *spyEntityResolver) FindManyBatchByIDs(ctx context.Context, reps []*model.BatchByIDsInput) ([]*storage.Batch, error) {
	r.spy.record("BatchByIDs", len(reps))
	return r.entityResolver.FindManyBatchByIDs(ctx, reps)
}

func (r *spyEntityResolver) FindManyBatchByBatchIDs(ctx context.Context, reps []*model.BatchByBatchIDsInput) ([]*storage.Batch, error) {
	r.spy.record("BatchByBatchIDs", len(reps))
	return r.entityResolver.FindManyBatchByBatchIDs(ctx, reps)
}

func (r *spyEntityResolver) FindManyBatchOperationByIDs(ctx context.Context, reps []*model.BatchOperationByIDsInput) ([]*storage.BatchOperation, error) {
	r.spy.record("BatchOperationByIDs", len(reps))
	return r.entityResolver.FindManyBatchOperationByIDs(ctx, reps)
}

func (r *spyEntityResolver) FindManyBatchOperationByBatchOperationKeys(ctx context.Context, reps []*model.BatchOperationByBatchOperationKeysInput) ([]*storage.BatchOperation, error) {
	r.spy.record("BatchOperationByBatchOperationKeys", len(reps))
	return r.entityResolver.FindManyBatchOperationByBatchOperationKeys(ctx, reps)
}

func (r *spyEntityResolver) FindManyBatchOperationItemByIDs(ctx context.Context, reps []*model.BatchOperationItemByIDsInput) ([]*storage.BatchOperationItem, error) {
	r.spy.record("BatchOperationItemByIDs", len(reps))
	return r.entityResolver.FindManyBatchOperationItemByIDs(ctx, reps)
}

func (r *spyEntityResolver) FindManyBatchOperationItemByBatchOperationKeyAndItemKeys(ctx context.Context, reps []*model.BatchOperationItemByBatchOperationKeyAndItemKeysInput) ([]*storage.BatchOperationItem, error) {
	r.spy.record("BatchOperationItemByBatchOperationKeyAndItemKeys", len(reps))
	return r.entityResolver.FindManyBatchOperationItemByBatchOperationKeyAndItemKeys(ctx, reps)
}

func (r *spyEntityResolver) FindManyProcessInstanceByProcessInstanceKeys(ctx context.Context, reps []*model.ProcessInstanceByProcessInstanceKeysInput) ([]*model.ProcessInstance, error) {
	r.spy.record("ProcessInstanceByProcessInstanceKeys", len(reps))
	return r.entityResolver.FindManyProcessInstanceByProcessInstanceKeys(ctx, reps)
}

func spyEnv(t *testing.T, cfg Config) (*env, *entitySpy) {
	var spy *entitySpy
	e := newEnv(t, envOptions{cfg: cfg, root: func(r *Resolver) generated.ResolverRoot { spy = &entitySpy{Resolver: r}; return spy }}, fill)
	return e, spy
}

// entityCase is one entity type and key: n representations and the labels
// _entities must answer with, in order.
type entityCase struct {
	resolver string
	reps     []map[string]any
	want     []string
}

// entityCases builds n representations of every entity type and key, known
// records in a scrambled order mixed with unknown ones and repeats.
func entityCases(n int) []entityCase {
	batches := []string{"abc", "10", uuidBatch, "1", "2"}
	ops := []string{opL, opD, opC, opB, opA}
	var cases []entityCase
	add := func(resolver string, rep func(i int) (map[string]any, string)) {
		c := entityCase{resolver: resolver}
		for i := range n {
			r, w := rep(i)
			c.reps = append(c.reps, r)
			c.want = append(c.want, w)
		}
		cases = append(cases, c)
	}
	unknown := func(i int) bool { return i%7 == 3 }
	add("BatchByBatchIDs", func(i int) (map[string]any, string) {
		if unknown(i) {
			return map[string]any{"__typename": "Batch", "batchId": "missing-" + strconv.Itoa(i)}, "null"
		}
		b := batches[i%len(batches)]
		return map[string]any{"__typename": "Batch", "batchId": b}, "Batch:" + b
	})
	add("BatchByIDs", func(i int) (map[string]any, string) {
		if unknown(i) {
			return map[string]any{"__typename": "Batch", "id": globalid.Batch("missing-" + strconv.Itoa(i))}, "null"
		}
		b := batches[(i*3)%len(batches)]
		return map[string]any{"__typename": "Batch", "id": globalid.Batch(b)}, "Batch:" + b
	})
	add("BatchOperationByBatchOperationKeys", func(i int) (map[string]any, string) {
		if unknown(i) {
			return map[string]any{"__typename": "BatchOperation", "batchOperationKey": opMissing}, "null"
		}
		o := ops[i%len(ops)]
		return map[string]any{"__typename": "BatchOperation", "batchOperationKey": o}, "BatchOperation:" + o
	})
	add("BatchOperationByIDs", func(i int) (map[string]any, string) {
		if unknown(i) {
			return map[string]any{"__typename": "BatchOperation", "id": globalid.Operation("1" + strconv.Itoa(i))}, "null"
		}
		o := ops[(i*2)%len(ops)]
		return map[string]any{"__typename": "BatchOperation", "id": globalid.Operation(o)}, "BatchOperation:" + o
	})
	add("BatchOperationItemByBatchOperationKeyAndItemKeys", func(i int) (map[string]any, string) {
		if unknown(i) {
			return map[string]any{"__typename": "BatchOperationItem", "batchOperationKey": opB, "itemKey": strconv.Itoa(i)}, "null"
		}
		item := strconv.Itoa(100 - i*2%100) // opA's items 100, 98, ...
		return map[string]any{"__typename": "BatchOperationItem", "batchOperationKey": opA, "itemKey": item},
			"BatchOperationItem:" + label(opA, item)
	})
	add("BatchOperationItemByIDs", func(i int) (map[string]any, string) {
		switch {
		case unknown(i):
			return map[string]any{"__typename": "BatchOperationItem", "id": globalid.Item(opA, "x"+strconv.Itoa(i))}, "null"
		case i%5 == 1:
			return map[string]any{"__typename": "BatchOperationItem", "id": globalid.Item(opB, itemB1)}, "BatchOperationItem:" + label(opB, itemB1)
		}
		item := strconv.Itoa(n - i)
		return map[string]any{"__typename": "BatchOperationItem", "id": globalid.Item(opA, item)}, "BatchOperationItem:" + label(opA, item)
	})
	add("ProcessInstanceByProcessInstanceKeys", func(i int) (map[string]any, string) {
		k := strconv.Itoa(2000 - i)
		return map[string]any{"__typename": "ProcessInstance", "processInstanceKey": k}, "ProcessInstance:" + k
	})
	return cases
}

// Contract §7: _entities with N representations costs one storage pass (a
// read transaction), not N, and keeps the order of the representations.
func TestEntitiesBatched(t *testing.T) {
	e, spy := spyEnv(t, Config{})
	const n = 50
	for _, c := range entityCases(n) {
		t.Run(c.resolver, func(t *testing.T) {
			spy.reset()
			list, passes := e.entities(entitiesQuery, c.reps)
			assert.Equal(t, c.want, entityLabels(t, list))
			wantPasses := 1
			if c.resolver == "ProcessInstanceByProcessInstanceKeys" {
				wantPasses = 0 // batchql does not store process instances
			}
			assert.Equal(t, wantPasses, passes, "storage passes for %d representations", n)
			assert.Equal(t, map[string][]int{c.resolver: {n}}, spy.reset(), "one resolver call for all representations")
		})
	}
}

// Representations of several types in one call: each type is one resolver
// call and at most one storage pass, and the answer keeps the order.
func TestEntitiesMixedTypes(t *testing.T) {
	e, spy := spyEnv(t, Config{})
	cases := entityCases(12)
	var reps []map[string]any
	var want []string
	for i := range 12 {
		// One key per type: gqlgen picks a type's resolver by its first representation.
		for _, c := range []entityCase{cases[0], cases[2], cases[4], cases[6]} {
			reps = append(reps, c.reps[i])
			want = append(want, c.want[i])
		}
	}
	spy.reset()
	list, passes := e.entities(entitiesQuery, reps)
	assert.Equal(t, want, entityLabels(t, list))
	assert.LessOrEqual(t, passes, 3, "one pass per stored type")
	assert.Equal(t, map[string][]int{
		"BatchByBatchIDs": {12}, "BatchOperationByBatchOperationKeys": {12},
		"BatchOperationItemByBatchOperationKeyAndItemKeys": {12}, "ProcessInstanceByProcessInstanceKeys": {12},
	}, spy.reset())
}

// Entities answer the same fields as the root fields do, ids included.
func TestEntitiesFields(t *testing.T) {
	e := newEnv(t, envOptions{}, fill)
	reps := []map[string]any{
		{"__typename": "BatchOperationItem", "batchOperationKey": opB, "itemKey": itemB1},
	}
	list, _ := e.entities(`query($reps: [_Any!]!) { _entities(representations: $reps) { ... on BatchOperationItem {
		id state errorMessage batchOperation { id state } processInstance { processInstanceKey } rootProcessInstance { processInstanceKey } } } }`, reps)
	assert.Equal(t, map[string]any{
		"id": globalid.Item(opB, itemB1), "state": "FAILED",
		"errorMessage":        "Expected to cancel a process instance, but it is a child process instance.",
		"batchOperation":      map[string]any{"id": globalid.Operation(opB), "state": "PARTIALLY_COMPLETED"},
		"processInstance":     map[string]any{"processInstanceKey": itemB1},
		"rootProcessInstance": map[string]any{"processInstanceKey": "2251799813690700"},
	}, list[0])

	// The id of an entity is a key of it, and the same id node(id) takes.
	data := e.query(`{ node(id: "`+globalid.Batch("10")+`") { id } }`, nil)
	list, _ = e.entities(entitiesQuery, []map[string]any{{"__typename": "Batch", "id": at(t, data, "node", "id")}})
	assert.Equal(t, []string{"Batch:10"}, entityLabels(t, list))
}

// A bad id key is BAD_USER_INPUT for that representation only, at its index;
// the others are resolved.
func TestEntitiesBadID(t *testing.T) {
	e := newEnv(t, envOptions{}, fill)
	reps := []map[string]any{
		{"__typename": "Batch", "id": globalid.Batch("1")},
		{"__typename": "BatchOperation", "id": globalid.Operation(opB)},
		{"__typename": "Batch", "id": "not an id!"},
		{"__typename": "Batch", "id": globalid.Operation(opB)},
		{"__typename": "Batch", "id": globalid.Batch("2")},
	}
	r := e.post(map[string]any{"query": entitiesQuery, "variables": map[string]any{"reps": reps}})
	require.Len(t, r.Errors, 2, "%v", r.Errors)
	list := r.Data["_entities"].([]any)
	assert.Equal(t, []string{"Batch:1", "BatchOperation:" + opB, "null", "null", "Batch:2"}, entityLabels(t, list))
	for i, want := range []struct {
		arg, value, reason string
		index              float64
	}{
		{`"representations[2].id"`, `"not an id!"`, "not a valid global id", 2},
		{`"representations[3].id"`, `"` + globalid.Operation(opB) + `"`, "the id of a BatchOperation, not of a Batch", 3},
	} {
		err := r.Errors[i]
		assert.Equal(t, CodeBadUserInput, err.Code())
		assert.Contains(t, err.Message, want.arg)
		assert.Contains(t, err.Message, want.value)
		assert.Contains(t, err.Message, want.reason)
		assert.Equal(t, []any{"_entities", want.index}, err.Path)
	}
}

func TestProcessInstanceBatchOperationItems(t *testing.T) {
	e := fixtureEnv(t)
	const q = `query($reps: [_Any!]!, $filter: BatchOperationItemFilter) { _entities(representations: $reps) {
		... on ProcessInstance { processInstanceKey batchOperationItems(first: 2, filter: $filter) {
			totalCount nodes { batchOperationKey itemKey processInstance { processInstanceKey } } } } } }`
	pi := func(k string) map[string]any {
		return map[string]any{"__typename": "ProcessInstance", "processInstanceKey": k}
	}
	before := e.readTxns()
	data := e.query(q, map[string]any{"reps": []map[string]any{pi(itemB2), pi("1042"), pi("777")}})
	// Entity resolution reads nothing (nor does an item's processInstance);
	// each instance's connection is one query.
	assert.Equal(t, 3, e.readTxns()-before, "storage passes")
	list := at(t, data, "_entities").([]any)
	assert.Equal(t, []string{label(opB, itemB2)}, itemLabels(t, list[0], "batchOperationItems", "nodes"))
	assert.Equal(t, []string{itemB2}, pluck(t, list[0], "processInstanceKey", "batchOperationItems", "nodes", "processInstance"))
	assert.Equal(t, []string{label(opA, "42")}, itemLabels(t, list[1], "batchOperationItems", "nodes"))
	assert.Equal(t, []string{}, itemLabels(t, list[2], "batchOperationItems", "nodes"), "unknown instances have no items")
	assert.Equal(t, []any{1.0, 1.0, 0.0}, []any{at(t, list[0], "batchOperationItems", "totalCount"),
		at(t, list[1], "batchOperationItems", "totalCount"), at(t, list[2], "batchOperationItems", "totalCount")})

	// The user's filter is ANDed; conditions on processInstanceKey that allow the parent are fine.
	for _, tt := range []struct {
		filter map[string]any
		count  float64
	}{
		{map[string]any{"state": map[string]any{"eq": "COMPLETED"}}, 0}, // 1042 is opA's item 42: CANCELED
		{map[string]any{"state": map[string]any{"eq": string(opAItemState(42))}}, 1},
		{map[string]any{"processInstanceKey": map[string]any{"in": []string{"1042", "1"}}}, 1},
		{map[string]any{"processInstanceKey": map[string]any{"like": "10*"}}, 1},
	} {
		data := e.query(q, map[string]any{"reps": []map[string]any{pi("1042")}, "filter": tt.filter})
		assert.Equal(t, tt.count, at(t, data, "_entities", 0, "batchOperationItems", "totalCount"), "%v", tt.filter)
	}

	// A contradicting processInstanceKey condition is an error naming it.
	for _, f := range []struct {
		filter map[string]any
		arg    string
	}{
		{map[string]any{"processInstanceKey": map[string]any{"eq": "1043"}}, "filter.processInstanceKey.eq"},
		{map[string]any{"processInstanceKey": map[string]any{"neq": "1042"}}, "filter.processInstanceKey.neq"},
		{map[string]any{"processInstanceKey": map[string]any{"in": []string{"1", "2"}}}, "filter.processInstanceKey.in"},
		{map[string]any{"processInstanceKey": map[string]any{"notIn": []string{"1042"}}}, "filter.processInstanceKey.notIn"},
		{map[string]any{"processInstanceKey": map[string]any{"exists": false}}, "filter.processInstanceKey.exists"},
	} {
		err := e.queryErr(q, map[string]any{"reps": []map[string]any{pi("1042")}, "filter": f.filter})
		assert.Equal(t, CodeBadUserInput, err.Code(), "%v", f.filter)
		assert.Contains(t, err.Message, `"`+f.arg+`"`)
		assert.Contains(t, err.Message, `process instance "1042"`)
		assert.Equal(t, []any{"_entities", 0.0, "batchOperationItems"}, err.Path)
	}

	// Paging and ordering work as on every items connection.
	data = e.query(`query($reps: [_Any!]!) { _entities(representations: $reps) { ... on ProcessInstance {
		batchOperationItems(last: 1, orderBy: [{field: ITEM_KEY, direction: DESC}]) { nodes { itemKey } pageInfo { hasPreviousPage } } } } }`,
		map[string]any{"reps": []map[string]any{pi("1042")}})
	assert.Equal(t, []string{"42"}, pluck(t, data, "itemKey", "_entities", 0, "batchOperationItems", "nodes"))
	err := e.queryErr(`query($reps: [_Any!]!) { _entities(representations: $reps) { ... on ProcessInstance {
		batchOperationItems(first: 1001) { totalCount } } } }`, map[string]any{"reps": []map[string]any{pi("1042")}})
	assert.Equal(t, CodeBadUserInput, err.Code())
	assert.Contains(t, err.Message, `"first"`)
}

// totalCount of ProcessInstance.batchOperationItems is counted only when selected.
func TestProcessInstanceItemsCountOnlyWhenSelected(t *testing.T) {
	var spy *piSpy
	e := newEnv(t, envOptions{root: func(r *Resolver) generated.ResolverRoot { spy = &piSpy{Resolver: r}; return spy }}, fill)
	vars := map[string]any{"reps": []map[string]any{{"__typename": "ProcessInstance", "processInstanceKey": "1001"}}}
	for _, tt := range []struct {
		sel  string
		want bool
	}{
		{`nodes { itemKey }`, false},
		{`totalCount`, true},
		{`... on BatchOperationItemConnection { n: totalCount }`, true},
	} {
		spy.countWanted = nil
		e.query(`query($reps: [_Any!]!) { _entities(representations: $reps) { ... on ProcessInstance { batchOperationItems { `+tt.sel+` } } } }`, vars)
		assert.Equal(t, []bool{tt.want}, spy.countWanted, tt.sel)
	}
}

type piSpy struct {
	*Resolver
	countWanted []bool
}

func (s *piSpy) ProcessInstance() generated.ProcessInstanceResolver {
	return &spyPIResolver{processInstanceResolver{s.Resolver}, s}
}

type spyPIResolver struct {
	processInstanceResolver
	spy *piSpy
}

func (r *spyPIResolver) BatchOperationItems(ctx context.Context, obj *model.ProcessInstance, first *int, after *string, last *int, before *string, filter *storage.BatchOperationItemFilter, orderBy []*model.BatchOperationItemOrder) (*storage.Page[storage.BatchOperationItem], error) {
	r.spy.countWanted = append(r.spy.countWanted, wantsTotalCount(ctx))
	return r.processInstanceResolver.BatchOperationItems(ctx, obj, first, after, last, before, filter, orderBy)
}

func TestItemProcessInstance(t *testing.T) {
	e := fixtureEnv(t)
	data := e.query(`{ batchOperation(batchOperationKey: "`+opB+`") { items { nodes {
		itemKey processInstance { processInstanceKey } rootProcessInstance { processInstanceKey } } } } }`, nil)
	pi := func(k string) map[string]any { return map[string]any{"processInstanceKey": k} }
	assert.Equal(t, []any{
		map[string]any{"itemKey": "5", "processInstance": nil, "rootProcessInstance": nil},
		map[string]any{"itemKey": itemB1, "processInstance": pi(itemB1), "rootProcessInstance": pi("2251799813690700")},
		map[string]any{"itemKey": itemB2, "processInstance": pi(itemB2), "rootProcessInstance": nil},
	}, at(t, data, "batchOperation", "items", "nodes"))

	// From an item to its process instance and back to all items that touched it.
	data = e.query(`{ batchOperationItems(first: 1, filter: {processInstanceKey: {eq: "1007"}}) { nodes {
		processInstance { batchOperationItems { totalCount nodes { batchOperationKey itemKey state } } } } } }`, nil)
	assert.Equal(t, map[string]any{"totalCount": 1.0, "nodes": []any{
		map[string]any{"batchOperationKey": opA, "itemKey": "7", "state": string(opAItemState(7))}}},
		at(t, data, "batchOperationItems", "nodes", 0, "processInstance", "batchOperationItems"))
}

// Contract §7: _service { sdl } works with introspection switched off, and
// __schema/__type stay rejected.
func TestServiceSDL(t *testing.T) {
	for _, introspection := range []bool{false, true} {
		t.Run(fmt.Sprintf("introspection=%v", introspection), func(t *testing.T) {
			e := newEnv(t, envOptions{cfg: Config{Introspection: introspection}}, nil)
			data := e.query(`{ _service { sdl } }`, nil)
			sdl, _ := at(t, data, "_service", "sdl").(string)
			for _, want := range []string{
				`@link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])`,
				`type Batch implements Node @key(fields: "id") @key(fields: "batchId")`,
				`type BatchOperation implements Node @key(fields: "id") @key(fields: "batchOperationKey")`,
				`type BatchOperationItem implements Node @key(fields: "id") @key(fields: "batchOperationKey itemKey")`,
				`type ProcessInstance @key(fields: "processInstanceKey")`,
				`processInstance: ProcessInstance`,
				`rootProcessInstance: ProcessInstance`,
			} {
				assert.True(t, strings.Contains(sdl, want), "SDL lacks %s", want)
			}
			assert.False(t, strings.Contains(sdl, "_entities("), "the federation fields are not part of the subgraph's SDL")

			// Through a fragment, and alongside other fields.
			data = e.query(`query Q { ...S batch(batchId: "x") { batchId } } fragment S on Query { _service { sdl } }`, nil)
			assert.Equal(t, sdl, at(t, data, "_service", "sdl"))
			if !introspection {
				for _, q := range []string{
					`{ _service { sdl } __schema { queryType { name } } }`,
					`{ _service { sdl } ...F } fragment F on Query { __type(name: "Batch") { name } }`,
				} {
					err := e.queryErr(q, nil)
					assert.Equal(t, CodeValidationFailed, err.Code(), q)
				}
			}
		})
	}
}

// gqlgen picks a type's resolver by its first representation; the others
// may still carry another key of the type (or a null id and another key),
// all in one pass.
func TestEntitiesMixedKeys(t *testing.T) {
	e, spy := spyEnv(t, Config{})
	reps := []map[string]any{
		{"__typename": "Batch", "id": globalid.Batch("1")},
		{"__typename": "BatchOperationItem", "batchOperationKey": opB, "itemKey": itemB2},
		{"__typename": "Batch", "batchId": "2"},
		{"__typename": "BatchOperationItem", "id": globalid.Item(opA, "9")},
		{"__typename": "Batch", "id": nil, "batchId": "abc"},
		{"__typename": "BatchOperationItem", "id": nil, "batchOperationKey": opA, "itemKey": "10"},
		{"__typename": "Batch", "batchId": 10}, // a number is a fine ID
	}
	spy.reset()
	list, passes := e.entities(entitiesQuery, reps)
	assert.Equal(t, []string{"Batch:1", "BatchOperationItem:" + label(opB, itemB2), "Batch:2",
		"BatchOperationItem:" + label(opA, "9"), "Batch:abc", "BatchOperationItem:" + label(opA, "10"), "Batch:10"},
		entityLabels(t, list))
	assert.Equal(t, 2, passes, "one pass per type")
	assert.Equal(t, map[string][]int{"BatchByIDs": {4}, "BatchOperationItemByBatchOperationKeyAndItemKeys": {3}}, spy.reset())

	reps = []map[string]any{
		{"__typename": "BatchOperation", "batchOperationKey": opC},
		{"__typename": "BatchOperation", "id": globalid.Operation(opD)},
		{"__typename": "BatchOperation", "batchOperationKey": "nope"},
	}
	list, passes = e.entities(entitiesQuery, reps)
	assert.Equal(t, []string{"BatchOperation:" + opC, "BatchOperation:" + opD, "null"}, entityLabels(t, list))
	assert.Equal(t, 1, passes)
}

// Representations without a usable key are BAD_USER_INPUT at their index.
// (A key that is an object or list fails its type's whole group inside
// gqlgen's generated code, before batchql sees it.)
func TestEntitiesBadKeys(t *testing.T) {
	e := newEnv(t, envOptions{}, fill)
	reps := []map[string]any{
		{"__typename": "Batch", "batchId": "1"},
		{"__typename": "Batch"},
		{"__typename": "BatchOperationItem", "batchOperationKey": opB, "itemKey": itemB1},
		{"__typename": "BatchOperationItem", "batchOperationKey": opB},
		{"__typename": "Batch", "batchId": true},
		{"__typename": "BatchOperationItem", "batchOperationKey": opB, "itemKey": false},
	}
	r := e.post(map[string]any{"query": entitiesQuery, "variables": map[string]any{"reps": reps}})
	assert.Equal(t, []string{"Batch:1", "null", "BatchOperationItem:" + label(opB, itemB1), "null", "null", "null"},
		entityLabels(t, r.Data["_entities"].([]any)))
	require.Len(t, r.Errors, 4, "%v", r.Errors)
	got := map[float64]gqlError{}
	for _, err := range r.Errors {
		require.Len(t, err.Path, 2, err.Message)
		got[err.Path[1].(float64)] = err
	}
	for index, want := range map[float64]string{
		1: `argument "representations[1].__typename" (value "Batch"): the representation carries none of the keys of Batch: "id", "batchId"`,
		3: `argument "representations[3].__typename" (value "BatchOperationItem"): the representation carries none of the keys of BatchOperationItem: "id", "batchOperationKey itemKey"`,
		4: `argument "representations[4].batchId" (value true): must be a string`,
		5: `argument "representations[5].itemKey" (value false): must be a string`,
	} {
		assert.Equal(t, want, got[index].Message, index)
		assert.Equal(t, CodeBadUserInput, got[index].Code(), index)
	}
}

// Representations gqlgen's generated code cannot route are the client's
// fault: BAD_USER_INPUT saying what was wrong, never an internal error.
func TestEntitiesBadRepresentations(t *testing.T) {
	e := newEnv(t, envOptions{}, fill)
	cases := map[string]struct {
		rep    map[string]any
		reason string
	}{
		"unknown typename": {map[string]any{"__typename": "Nope", "id": "x"}, "not an entity"},
		"no typename":      {map[string]any{"id": globalid.Batch("1")}, "__typename"},
		"no key":           {map[string]any{"__typename": "Batch"}, "lacks the key fields"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.post(map[string]any{"query": entitiesQuery, "variables": map[string]any{"reps": []map[string]any{c.rep}}})
			require.NotEmpty(t, r.Errors)
			assert.Equal(t, CodeBadUserInput, r.Errors[0].Code(), "%v", r.Errors)
			assert.Contains(t, r.Errors[0].Message, c.reason)
		})
	}
}
