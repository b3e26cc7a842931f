package storage

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
