package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

// The items connections under a parent (BatchOperation.items,
// ProcessInstance.batchOperationItems) have one owner, itemPages. gqlgen's
// batch resolver of BatchOperation.items (gqlgen.yml: batch: true) hands it
// all operations of a list, the fast list path (fastlist.go) asks it for the
// pages it then writes, and ProcessInstance.batchOperationItems asks it for
// one instance's page (itemPage): _entities resolves each instance's
// connection in a read transaction of its own (federation_test.go counts
// them).

// itemsArgs are the arguments of an items connection under a parent.
type itemsArgs struct {
	first, last   *int
	after, before *string
	filter        *storage.BatchOperationItemFilter
	orderBy       []*model.BatchOperationItemOrder
	count         bool // totalCount is selected: storage counts only then
}

// itemPages reads the items connection of every parent key, in the
// parents' order and in one read transaction: the user's filter ANDed with
// the parent's key (scopeItems). A bad paging argument fails all parents; a
// filter that contradicts one parent, or a storage input error for one
// parent, is that parent's error alone (graphql.BatchErrorList); any other
// error fails all.
func (r *Resolver) itemPages(ctx context.Context, scope itemScope, parents []string, a itemsArgs) ([]*storage.Page[storage.BatchOperationItem], error) {
	page, err := r.pageRequest(a.first, a.after, a.last, a.before)
	if err != nil {
		return nil, err
	}
	order := orders(a.orderBy)
	return readEach(ctx, r.store, parents, func(rd *storage.Reader, parent string) (*storage.Page[storage.BatchOperationItem], error) {
		f, err := scopeItems(scope, parent, a.filter)
		if err != nil {
			return nil, err
		}
		p, err := rd.Items(ctx, storage.ItemQuery{Filter: f, Order: order, Page: page, Count: a.count})
		return p, storageError(err)
	})
}

// itemPage is itemPages for one parent.
func (r *Resolver) itemPage(ctx context.Context, scope itemScope, parent string, a itemsArgs) (*storage.Page[storage.BatchOperationItem], error) {
	pages, err := r.itemPages(ctx, scope, []string{parent}, a)
	if err != nil {
		if errs, ok := err.(graphql.BatchErrors); ok {
			return nil, errs.Errors()[0]
		}
		return nil, err
	}
	return pages[0], nil
}

// readEach reads one record for each parent in one read transaction: load
// reads one (nil when there is none). A load error that is a user input
// error (a *gqlerror.Error from badInput) belongs to its parent alone and is
// returned per index (graphql.BatchErrorList), for gqlgen to report at its
// place in the list; any other error fails them all.
func readEach[P, T any](ctx context.Context, store *storage.Store, parents []P, load func(rd *storage.Reader, p P) (*T, error)) ([]*T, error) {
	out := make([]*T, len(parents))
	var errs []error
	err := store.View(ctx, func(rd *storage.Reader) error {
		for i, p := range parents {
			rec, err := load(rd, p)
			if err != nil {
				if !isUserError(err) {
					return err
				}
				if errs == nil {
					errs = make([]error, len(parents))
				}
				errs[i] = err
				continue
			}
			out[i] = rec
		}
		return nil
	})
	if err != nil {
		return nil, storageError(err)
	}
	if errs != nil {
		return out, graphql.BatchErrorList(errs)
	}
	return out, nil
}

// operationKeys are the keys of operations, the parents of their items.
func operationKeys(ops []*storage.BatchOperation) []string {
	keys := make([]string, len(ops))
	for i, o := range ops {
		keys[i] = o.BatchOperationKey
	}
	return keys
}
