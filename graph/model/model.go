// Package model holds the Go types the GraphQL schema binds to that are not
// storage records: the Node interface, the connection and edge types (generic
// storage pages under schema names), the DateTime scalar and the generated
// input and enum models (models_gen.go).
package model

import (
	"github.com/batchql/batchql/storage"
)

// Node is the GraphQL Node interface. Its implementors are storage records
// (*storage.Batch, *storage.BatchOperation, *storage.BatchOperationItem),
// which cannot carry methods declared here, so it is the empty interface;
// the generated executor dispatches on the concrete type.
type Node any

// Connections and edges are storage's generic pages under schema names.
type (
	BatchConnection              = storage.Page[storage.Batch]
	BatchEdge                    = storage.Edge[storage.Batch]
	BatchOperationConnection     = storage.Page[storage.BatchOperation]
	BatchOperationEdge           = storage.Edge[storage.BatchOperation]
	BatchOperationItemConnection = storage.Page[storage.BatchOperationItem]
	BatchOperationItemEdge       = storage.Edge[storage.BatchOperationItem]
)

// PageInfo is Relay's page information, taken from a storage page.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// NewPageInfo returns the page information of p.
func NewPageInfo[T any](p *storage.Page[T]) *PageInfo {
	return &PageInfo{
		HasNextPage:     p.HasNextPage,
		HasPreviousPage: p.HasPreviousPage,
		StartCursor:     p.StartCursor(),
		EndCursor:       p.EndCursor(),
	}
}
