package storage

import "github.com/batchql/batchql/globalid"

// IsEntity marks the records as Apollo Federation entities. It does nothing:
// the GraphQL layer binds the schema's types to these records, and gqlgen's
// federation plugin requires every entity's Go type to implement its
// fedruntime.Entity interface (this one method) for the _Entity union. The
// union's Go type is reserved by the plugin, so the empty-interface binding
// used for Node is not available there.
func (*Batch) IsEntity() {}

// IsEntity marks BatchOperation as a federation entity (see Batch.IsEntity).
func (*BatchOperation) IsEntity() {}

// IsEntity marks BatchOperationItem as a federation entity (see Batch.IsEntity).
func (*BatchOperationItem) IsEntity() {}

// ID is the batch's global id (Node.id). gqlgen binds the id field to it: a
// method runs inline, where a resolver would cost a deferred call per record.
func (b *Batch) ID() string { return globalid.Batch(b.BatchID) }

// ID is the operation's global id (see Batch.ID).
func (o *BatchOperation) ID() string { return globalid.Operation(o.BatchOperationKey) }

// ID is the item's global id (see Batch.ID).
func (it *BatchOperationItem) ID() string { return globalid.Item(it.BatchOperationKey, it.ItemKey) }
