package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/batchql/batchql/graph/model"
)

// Apollo Federation (contract §7). batchql is a federation v2 subgraph:
// gqlgen's federation plugin (gqlgen.yml) generates _service and _entities
// into graph/generated; the entity lookups are in entity.go and
// entity.resolvers.go. ProcessInstance belongs to another subgraph: batchql
// knows only its key and contributes its batch operation items.

// processInstance is the ProcessInstance entity of a key, nil for none.
func processInstance(key *string) *model.ProcessInstance {
	if key == nil {
		return nil
	}
	return &model.ProcessInstance{ProcessInstanceKey: *key}
}

// serviceSDL lets federation's _service { sdl } work with introspection
// off (contract §7): gqlgen answers _service only when the operation context
// allows introspection, which it does not by default. Registered after
// introspectionGuard, it allows it for operations that select _service at
// the root and no __schema or __type (which stay rejected).
type serviceSDL struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = serviceSDL{}

func (serviceSDL) ExtensionName() string                   { return "FederationServiceSDL" }
func (serviceSDL) Validate(graphql.ExecutableSchema) error { return nil }
func (serviceSDL) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil
	}
	if selectsRoot(oc.Doc, oc.Operation.SelectionSet, "_service", map[string]bool{}) &&
		findIntrospection(oc.Doc, oc.Operation.SelectionSet, map[string]bool{}) == nil {
		oc.DisableIntrospection = false
	}
	return nil
}

// selectsRoot reports whether a root selection set selects the field name,
// through fragments.
func selectsRoot(doc *ast.QueryDocument, set ast.SelectionSet, name string, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == name {
				return true
			}
		case *ast.InlineFragment:
			if selectsRoot(doc, s.SelectionSet, name, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if seen[s.Name] || doc == nil {
				continue
			}
			seen[s.Name] = true
			if def := doc.Fragments.ForName(s.Name); def != nil && selectsRoot(doc, def.SelectionSet, name, seen) {
				return true
			}
		}
	}
	return false
}
