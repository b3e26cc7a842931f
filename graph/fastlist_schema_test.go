package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/batchql/batchql/graph/generated"
)

// Every field of every type the fast list path writes is in its field table
// (written, or left to gqlgen as a resolver): a new schema field must not
// silently send every list that selects it back to gqlgen's slow path. The
// types are found in the schema served (the generated executable schema),
// walking from its connections (types with nodes and edges) through the
// object fields the tables write.
func TestFastListTablesCoverSchema(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	tables := map[string]fieldTable{}
	for _, ft := range []fieldTable{itemSpec, operationSpec, batchSpec, errorSpec, statsSpec,
		itemConnectionSpec, pageInfoSpec, itemEdgeSpec, operationEdgeSpec, batchEdgeSpec} {
		tables[ft.typeName()] = ft
	}

	var todo []string
	for name, def := range schema.Types {
		nodes, edges := def.Fields.ForName("nodes"), def.Fields.ForName("edges")
		if def.Kind != ast.Object || strings.HasPrefix(name, "__") || nodes == nil || edges == nil {
			continue
		}
		c, ok := connections[name]
		if !assert.True(t, ok, "connection %s: the fast path does not write its lists (graph/fastlist.go connections)", name) {
			continue
		}
		node, edge := c.tables()
		assert.Equal(t, nodes.Type.Name(), node.typeName(), name+".nodes")
		assert.Equal(t, edges.Type.Name(), edge.typeName(), name+".edges")
		todo = append(todo, node.typeName(), edge.typeName())
	}
	require.NotEmpty(t, todo, "the schema has connections")

	checked := map[string]bool{}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if checked[name] {
			continue
		}
		checked[name] = true
		def := schema.Types[name]
		require.NotNil(t, def, name)
		ft, ok := tables[name]
		if !assert.True(t, ok, "type %s: the fast path writes fields of this type but has no field table for it", name) {
			continue
		}
		written, left := ft.written(), ft.leftToGqlgen()
		for _, f := range def.Fields {
			switch {
			case strings.HasPrefix(f.Name, "__"):
			case slices.Contains(written, f.Name):
				if k := schema.Types[f.Type.Name()].Kind; k == ast.Object || k == ast.Interface || k == ast.Union {
					todo = append(todo, f.Type.Name())
				}
			case slices.Contains(left, f.Name):
				assert.NotEqual(t, ast.Scalar, schema.Types[f.Type.Name()].Kind,
					"%s.%s: a scalar left to gqlgen; write it (graph/fastspecs.go)", name, f.Name)
			default:
				t.Errorf("%s.%s: in no fast-path field table, so every list selecting it falls back to gqlgen: "+
					"write it in graph/fastspecs.go (or, a resolver reading other records, list it in the spec's resolved)", name, f.Name)
			}
		}
		for _, f := range append(written, left...) {
			assert.NotNil(t, def.Fields.ForName(f), "%s.%s: in the fast-path field table, not in the schema", name, f)
		}
	}
	for name := range tables {
		assert.True(t, checked[name], "field table %s: not reached from the schema's connections", name)
	}
}
