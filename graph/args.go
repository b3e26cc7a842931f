package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

// pageRequest converts Relay's paging arguments for storage, which owns
// their rules (storage.PageRequest.Check: first and last range over
// 0..MaxPageSize and exclude each other; cursors are checked by the query).
// It checks them here too, in storage's words, so that they are reported
// before the resolver's other argument errors and the fast list path can
// leave bad ones to the resolvers.
func (r *Resolver) pageRequest(first *int, after *string, last *int, before *string) (storage.PageRequest, error) {
	p := storage.PageRequest{First: first, Last: last, Max: r.cfg.MaxPageSize}
	if after != nil {
		p.After = *after
	}
	if before != nil {
		p.Before = *before
	}
	if err := p.Check(); err != nil {
		return storage.PageRequest{}, storageError(err)
	}
	return p, nil
}

// orderField is a GraphQL order input: a field enum and a direction.
type orderField interface {
	*model.BatchOrder | *model.BatchOperationOrder | *model.BatchOperationItemOrder
}

// orders converts orderBy to storage orders; storage checks the field names.
func orders[O orderField](in []O) []storage.Order {
	if len(in) == 0 {
		return nil
	}
	out := make([]storage.Order, 0, len(in))
	for _, o := range in {
		var field string
		var dir model.OrderDirection
		switch o := any(o).(type) {
		case *model.BatchOrder:
			field, dir = string(o.Field), o.Direction
		case *model.BatchOperationOrder:
			field, dir = string(o.Field), o.Direction
		case *model.BatchOperationItemOrder:
			field, dir = string(o.Field), o.Direction
		}
		out = append(out, storage.Order{Field: field, Desc: dir == model.OrderDirectionDesc})
	}
	return out
}

// wantsTotalCount reports whether the connection field being resolved
// selects totalCount (directly or in fragments), so storage counts only then.
func wantsTotalCount(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if !graphql.HasOperationContext(ctx) || fc == nil {
		return true
	}
	return selectsTotalCount(graphql.GetOperationContext(ctx), fc.Field.Selections)
}

// selectsTotalCount reports whether a connection's selection set asks for
// totalCount, through fragments and @skip/@include.
func selectsTotalCount(oc *graphql.OperationContext, sel ast.SelectionSet) bool {
	for _, f := range graphql.CollectFields(oc, sel, nil) {
		if f.Name == "totalCount" {
			return true
		}
	}
	return false
}

// itemScope is a parent that an items connection hangs off: it implies one
// key condition of the items filter.
type itemScope struct {
	arg    string // the filter field, e.g. "filter.batchOperationKey"
	parent string // what the parent is, for messages
	key    func(*storage.BatchOperationItemFilter) **storage.StringFilter
}

var (
	// operationScope is BatchOperation.items: batchOperationKey = the operation's key.
	operationScope = itemScope{"filter.batchOperationKey", "batch operation",
		func(f *storage.BatchOperationItemFilter) **storage.StringFilter { return &f.BatchOperationKey }}
	// processInstanceScope is ProcessInstance.batchOperationItems:
	// processInstanceKey = the instance's key.
	processInstanceScope = itemScope{"filter.processInstanceKey", "process instance",
		func(f *storage.BatchOperationItemFilter) **storage.StringFilter { return &f.ProcessInstanceKey }}
)

// scopeItems ANDs the parent's key into an items filter (the scope's key
// field = parent). A condition on that field that can never hold for the
// parent is an error naming it; others are kept for storage to check
// alongside eq = parent.
func scopeItems(s itemScope, parent string, f *storage.BatchOperationItemFilter) (storage.BatchOperationItemFilter, error) {
	var out storage.BatchOperationItemFilter
	if f != nil {
		out = *f
	}
	field := s.key(&out)
	kf := storage.StringFilter{}
	if *field != nil {
		kf = **field
		reason := "contradicts the parent " + s.parent + " " + quote(parent)
		switch {
		case kf.Eq != nil && *kf.Eq != parent:
			return out, badInput(s.arg+".eq", quote(*kf.Eq), reason)
		case kf.Neq != nil && *kf.Neq == parent:
			return out, badInput(s.arg+".neq", quote(*kf.Neq), reason)
		case kf.In != nil && !slices.Contains(kf.In, parent):
			return out, badInput(s.arg+".in", quoteList(kf.In), reason)
		case slices.Contains(kf.NotIn, parent):
			return out, badInput(s.arg+".notIn", quoteList(kf.NotIn), reason)
		case kf.Exists != nil && !*kf.Exists:
			return out, badInput(s.arg+".exists", "false", reason)
		}
	}
	kf.Eq = &parent
	*field = &kf
	return out, nil
}

func quoteList(l []string) string {
	s := "["
	for i, v := range l {
		if i > 0 {
			s += ", "
		}
		if len(s) > maxValueInMessage {
			return s + "…]"
		}
		s += quote(v)
	}
	return s + "]"
}
