package graph

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

// Federation entity lookups (contract §7). Every entity has gqlgen "multi"
// resolvers (gqlgen.yml: entity_resolver_multi): one _entities call hands
// all representations of a type to one resolver, which reads them in one
// read transaction and answers in their order. An unknown record is null; a
// bad key (a malformed global id, the id of another type, a key that is no
// string) is a BAD_USER_INPUT error for that representation alone, at its
// index of _entities. A storage failure fails the type's whole group.
//
// gqlgen picks a type's resolver (and so the key it decodes) by the first
// representation of the group alone. So that representations of one type
// may still carry different keys, the lookups read each representation's
// own key fields from the _entities arguments; the typed inputs serve only
// when those are not at hand.

// entityRep is one representation handed to a multi resolver: its key
// fields and its index among all representations of the _entities call.
type entityRep struct {
	fields map[string]any
	index  int
}

// entityReps returns the n representations of typ handed to a multi
// resolver, in order: gqlgen groups the _entities representations by
// __typename, keeping their order. When the arguments are not at hand (or
// do not add up), typed builds them from the resolver's typed inputs.
func entityReps(ctx context.Context, typ string, n int, typed func(i int) map[string]any) []entityRep {
	out := make([]entityRep, 0, n)
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		if all, ok := fc.Args["representations"].([]map[string]any); ok {
			for k, rep := range all {
				if rep["__typename"] == typ {
					out = append(out, entityRep{fields: rep, index: k})
				}
			}
		}
	}
	if len(out) == n {
		return out
	}
	out = out[:0]
	for i := range n {
		out = append(out, entityRep{fields: typed(i), index: -1})
	}
	return out
}

// key returns the key field name of the representation as a string: ok is
// false when it is absent or null. A value that is no string (or number) is
// an error naming it.
func (rep entityRep) key(field string) (string, bool, error) {
	switch v := rep.fields[field].(type) {
	case nil:
		return "", false, nil
	case string:
		return v, true, nil
	case json.Number:
		return string(v), true, nil
	default:
		b, _ := json.Marshal(v)
		return "", false, badInput(rep.arg(field), string(b), "must be a string")
	}
}

// arg names a key field of the representation in messages:
// "representations[k].field".
func (rep entityRep) arg(field string) string {
	if rep.index < 0 {
		return "representations." + field
	}
	return "representations[" + strconv.Itoa(rep.index) + "]." + field
}

// errNoKey is the error for a representation without (non-null) key fields.
func (rep entityRep) errNoKey(typ, keys string) error {
	return badInput(rep.arg("__typename"), quote(typ), "the representation carries none of the keys of "+typ+": "+keys)
}

// byGlobalID reads the record of an id key of entity type typ, decoded and
// read like node(id)'s (parseID, loadNode).
func byGlobalID[T any](rd *storage.Reader, rep entityRep, typ, id string) (*T, error) {
	g, ok := globalid.Parse(id)
	switch {
	case !ok:
		return nil, badInput(rep.arg("id"), quote(id), "not a valid global id (use the id field of "+typ+")")
	case g.Type != typ:
		return nil, badInput(rep.arg("id"), quote(id), "the id of a "+g.Type+", not of a "+typ)
	}
	n, err := loadNode(rd, g)
	rec, _ := n.(*T)
	return rec, err
}

// loadBatch reads a Batch by its id or batchId key.
func loadBatch(rd *storage.Reader, rep entityRep) (*storage.Batch, error) {
	if id, ok, err := rep.key("id"); ok || err != nil {
		if err != nil {
			return nil, err
		}
		return byGlobalID[storage.Batch](rd, rep, globalid.TypeBatch, id)
	}
	key, ok, err := rep.key("batchId")
	if !ok || err != nil {
		return nil, firstErr(err, rep.errNoKey(globalid.TypeBatch, `"id", "batchId"`))
	}
	return rd.Batch(key)
}

// loadOperation reads a BatchOperation by its id or batchOperationKey key.
func loadOperation(rd *storage.Reader, rep entityRep) (*storage.BatchOperation, error) {
	if id, ok, err := rep.key("id"); ok || err != nil {
		if err != nil {
			return nil, err
		}
		return byGlobalID[storage.BatchOperation](rd, rep, globalid.TypeBatchOperation, id)
	}
	key, ok, err := rep.key("batchOperationKey")
	if !ok || err != nil {
		return nil, firstErr(err, rep.errNoKey(globalid.TypeBatchOperation, `"id", "batchOperationKey"`))
	}
	return rd.BatchOperation(key)
}

// loadItem reads a BatchOperationItem by its id or its
// "batchOperationKey itemKey" key.
func loadItem(rd *storage.Reader, rep entityRep) (*storage.BatchOperationItem, error) {
	if id, ok, err := rep.key("id"); ok || err != nil {
		if err != nil {
			return nil, err
		}
		return byGlobalID[storage.BatchOperationItem](rd, rep, globalid.TypeItem, id)
	}
	opKey, okOp, err := rep.key("batchOperationKey")
	if err != nil {
		return nil, err
	}
	itemKey, okItem, err := rep.key("itemKey")
	if !okOp || !okItem || err != nil {
		return nil, firstErr(err, rep.errNoKey(globalid.TypeItem, `"id", "batchOperationKey itemKey"`))
	}
	return rd.Item(opKey, itemKey)
}

// isUserError reports whether err is a BAD_USER_INPUT error (badInput).
func isUserError(err error) bool {
	var ge *gqlerror.Error
	return errors.As(err, &ge) && ge.Extensions["code"] == CodeBadUserInput
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *Resolver) batchEntities(ctx context.Context, n int, typed func(i int) map[string]any) ([]*storage.Batch, error) {
	return readEach(ctx, r.store, entityReps(ctx, globalid.TypeBatch, n, typed), loadBatch)
}

func (r *Resolver) operationEntities(ctx context.Context, n int, typed func(i int) map[string]any) ([]*storage.BatchOperation, error) {
	return readEach(ctx, r.store, entityReps(ctx, globalid.TypeBatchOperation, n, typed), loadOperation)
}

func (r *Resolver) itemEntities(ctx context.Context, n int, typed func(i int) map[string]any) ([]*storage.BatchOperationItem, error) {
	return readEach(ctx, r.store, entityReps(ctx, globalid.TypeItem, n, typed), loadItem)
}

// processInstancesByKey needs no storage: batchql does not own process
// instances, so every key is an instance, whose batchOperationItems may be
// empty.
func processInstancesByKey(reps []*model.ProcessInstanceByProcessInstanceKeysInput) []*model.ProcessInstance {
	out := make([]*model.ProcessInstance, len(reps))
	for i, rep := range reps {
		out[i] = processInstance(&rep.ProcessInstanceKey)
	}
	return out
}
