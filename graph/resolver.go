// Package graph is batchql's GraphQL layer: the resolvers (thin translations
// of GraphQL arguments into storage queries), global ids, argument checks,
// error mapping and the HTTP handler. The executor is generated into
// graph/generated and the non-storage models into graph/model
// (`go tool gqlgen generate`, configured by gqlgen.yml).
package graph

import (
	"log/slog"
	"sync"

	"github.com/batchql/batchql/storage"
)

// Resolver is the root resolver. It holds no request state.
type Resolver struct {
	store *storage.Store
	cfg   Config
	log   *slog.Logger

	shared     sync.Once
	sharedRecs *sharedRecords // the subscriptions' (shared.go)
}

// sharedRecords returns the records read for subscribers, shared by all
// subscriptions of cfg.Subscriptions.
func (r *Resolver) sharedRecords() *sharedRecords {
	r.shared.Do(func() { r.sharedRecs = newSharedRecords(r.store, r.cfg.Subscriptions) })
	return r.sharedRecs
}
