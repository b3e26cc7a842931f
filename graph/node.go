package graph

import (
	"context"
	"strconv"

	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

// nodes resolves global ids in one read transaction: the result has the same
// order as ids, nil for well-formed ids of unknown records. A malformed id is
// BAD_USER_INPUT naming arg ("id", or "ids[i]" for a list).
func (r *Resolver) nodes(ctx context.Context, ids []string, arg string) ([]model.Node, error) {
	parsed := make([]globalid.ID, len(ids))
	for i, id := range ids {
		g, ok := globalid.Parse(id)
		if !ok {
			name := arg
			if arg == "ids" {
				name = "ids[" + strconv.Itoa(i) + "]"
			}
			return nil, badInput(name, quote(id), "not a valid global id (use the id field of Batch, BatchOperation or BatchOperationItem)")
		}
		parsed[i] = g
	}
	out := make([]model.Node, len(ids))
	err := r.store.View(ctx, func(rd *storage.Reader) error {
		for i, g := range parsed {
			n, err := loadNode(rd, g)
			if err != nil {
				return err
			}
			out[i] = n
		}
		return nil
	})
	if err != nil {
		return nil, storageError(err)
	}
	return out, nil
}

// loadNode reads the record a decoded global id names: nil when unknown.
// node, nodes and the federation id keys all resolve ids through it.
func loadNode(rd *storage.Reader, g globalid.ID) (n model.Node, err error) {
	switch g.Type {
	case globalid.TypeBatch:
		var b *storage.Batch
		if b, err = rd.Batch(g.Key); b != nil {
			n = b
		}
	case globalid.TypeBatchOperation:
		var o *storage.BatchOperation
		if o, err = rd.BatchOperation(g.Key); o != nil {
			n = o
		}
	case globalid.TypeItem:
		var it *storage.BatchOperationItem
		if it, err = rd.Item(g.Key, g.ItemKey); it != nil {
			n = it
		}
	}
	return n, err
}
