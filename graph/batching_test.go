package graph

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

// spyRoot records what resolvers were asked, around the real ones.
type spyRoot struct {
	*Resolver
	mu          sync.Mutex
	opBatches   []int  // len(objs) of each BatchOperationItem.batchOperation call
	itemBatches []int  // len(objs) of each BatchOperation.items call
	countWanted []bool // wantsTotalCount of each Query.batches call
}

func (s *spyRoot) BatchOperationItem() generated.BatchOperationItemResolver {
	return &spyItemResolver{batchOperationItemResolver{s.Resolver}, s}
}

func (s *spyRoot) BatchOperation() generated.BatchOperationResolver {
	return &spyOperationResolver{batchOperationResolver{s.Resolver}, s}
}

func (s *spyRoot) Query() generated.QueryResolver { return &spyQuery{queryResolver{s.Resolver}, s} }

type spyItemResolver struct {
	batchOperationItemResolver
	spy *spyRoot
}

func (r *spyItemResolver) BatchOperation(ctx context.Context, objs []*storage.BatchOperationItem) ([]*storage.BatchOperation, error) {
	r.spy.mu.Lock()
	r.spy.opBatches = append(r.spy.opBatches, len(objs))
	r.spy.mu.Unlock()
	return r.batchOperationItemResolver.BatchOperation(ctx, objs)
}

type spyOperationResolver struct {
	batchOperationResolver
	spy *spyRoot
}

func (r *spyOperationResolver) Items(ctx context.Context, objs []*storage.BatchOperation, first *int, after *string, last *int, before *string, filter *storage.BatchOperationItemFilter, orderBy []*model.BatchOperationItemOrder) ([]*storage.Page[storage.BatchOperationItem], error) {
	r.spy.mu.Lock()
	r.spy.itemBatches = append(r.spy.itemBatches, len(objs))
	r.spy.mu.Unlock()
	return r.batchOperationResolver.Items(ctx, objs, first, after, last, before, filter, orderBy)
}

type spyQuery struct {
	queryResolver
	spy *spyRoot
}

func (q *spyQuery) Batches(ctx context.Context, first *int, after *string, last *int, before *string, filter *storage.BatchFilter, orderBy []*model.BatchOrder) (*storage.Page[storage.Batch], error) {
	q.spy.mu.Lock()
	q.spy.countWanted = append(q.spy.countWanted, wantsTotalCount(ctx))
	q.spy.mu.Unlock()
	return q.queryResolver.Batches(ctx, first, after, last, before, filter, orderBy)
}

func TestItemBatchOperationIsBatched(t *testing.T) {
	var spy *spyRoot
	e := newEnv(t, envOptions{root: func(r *Resolver) generated.ResolverRoot { spy = &spyRoot{Resolver: r}; return spy }}, fill)
	data := e.query(`{ batchOperationItems(first: 60) { nodes { itemKey batchOperation { batchOperationKey } } } }`, nil)
	ops := pluck(t, data, "batchOperationKey", "batchOperationItems", "nodes", "batchOperation")
	assert.Len(t, ops, 60)
	assert.Equal(t, []int{60}, spy.opBatches, "one call for the whole page")
}

// BatchOperation.items of a list of operations is one resolver call and
// one read transaction for all of them, on gqlgen's path and on the fast
// list path alike (both ask itemPages).
func TestOperationItemsIsBatched(t *testing.T) {
	const q = `{ batchOperations(first: 10) { nodes { batchOperationKey items(first: 2) { totalCount nodes { itemKey } } } } }`
	var spy *spyRoot
	spied := newEnv(t, envOptions{root: func(r *Resolver) generated.ResolverRoot { spy = &spyRoot{Resolver: r}; return spy }}, fill)
	data := spied.query(q, nil)
	ops := pluck(t, data, "batchOperationKey", "batchOperations", "nodes")
	assert.Len(t, ops, 5)
	assert.Equal(t, []int{5}, spy.itemBatches, "one call for the whole page")

	for _, cfg := range []Config{{}, {gqlgenLists: true}} {
		e := newEnv(t, envOptions{cfg: cfg}, fill)
		before := e.readTxns()
		data := e.query(q, nil)
		assert.Equal(t, 2, e.readTxns()-before, "gqlgen lists %v: one pass for the operations, one for all their items", cfg.gqlgenLists)
		for i, op := range pluck(t, data, "batchOperationKey", "batchOperations", "nodes") {
			want := e.query(`query($k: ID!) { batchOperationItems(first: 2, filter: {batchOperationKey: {eq: $k}}) { totalCount nodes { itemKey } } }`, map[string]any{"k": op})
			assert.Equal(t, at(t, want, "batchOperationItems"), at(t, data, "batchOperations", "nodes", i, "items"), op)
		}

		// A filter that contradicts some operations is an error of each of
		// them, at its place in the list; the others read on.
		r := e.post(map[string]any{"query": `query($k: ID!) { batchOperations(first: 10) { nodes { items(filter: {batchOperationKey: {eq: $k}}) { totalCount } } } }`,
			"variables": map[string]any{"k": opB}})
		require.Len(t, r.Errors, 4, "%v", r.Errors)
		var named []string
		for _, err := range r.Errors {
			assert.Equal(t, CodeBadUserInput, err.Code())
			require.Len(t, err.Path, 4)
			assert.Equal(t, []any{"batchOperations", "nodes", "items"}, []any{err.Path[0], err.Path[1], err.Path[3]})
			i := int(err.Path[2].(float64))
			assert.Contains(t, err.Message, `contradicts the parent batch operation "`+ops[i]+`"`)
			named = append(named, ops[i])
		}
		assert.ElementsMatch(t, slices.DeleteFunc(slices.Clone(ops), func(k string) bool { return k == opB }), named)
	}
}

func TestTotalCountOnlyWhenSelected(t *testing.T) {
	var spy *spyRoot
	e := newEnv(t, envOptions{root: func(r *Resolver) generated.ResolverRoot { spy = &spyRoot{Resolver: r}; return spy }}, fill)
	for _, tt := range []struct {
		query string
		want  bool
	}{
		{`{ batches { nodes { batchId } } }`, false},
		{`{ batches { pageInfo { hasNextPage } edges { cursor } } }`, false},
		{`{ batches { totalCount } }`, true},
		{`{ batches { n: totalCount } }`, true},
		{`{ batches { ...F } } fragment F on BatchConnection { totalCount }`, true},
		{`{ batches { ... on BatchConnection { totalCount } } }`, true},
		{`{ batches { totalCount @skip(if: true) nodes { batchId } } }`, false},
	} {
		spy.countWanted = nil
		e.query(tt.query, nil)
		assert.Equal(t, []bool{tt.want}, spy.countWanted, tt.query)
	}
}
