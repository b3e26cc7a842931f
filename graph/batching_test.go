package graph

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

// spyRoot records what resolvers were asked, around the real ones.
type spyRoot struct {
	*Resolver
	mu          sync.Mutex
	opBatches   []int  // len(objs) of each BatchOperationItem.batchOperation call
	countWanted []bool // wantsTotalCount of each Query.batches call
}

func (s *spyRoot) BatchOperationItem() generated.BatchOperationItemResolver {
	return &spyItemResolver{batchOperationItemResolver{s.Resolver}, s}
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
