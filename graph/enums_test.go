package graph

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An enum value in a variable is taken only as the schema spells it, like
// one written in the document: another case is rejected before anything
// runs, as a value of no spelling is, whether the enum is a generated one
// (orderBy's field and direction) or storage's (a state filter, which took
// "failed" and matched nothing). Nested in input objects and lists, given
// alone for a list, or as a list of one.
func TestVariableEnumsExact(t *testing.T) {
	e := fixtureEnv(t)
	const (
		order  = `query($o: [BatchOperationItemOrder!]) { batchOperationItems(orderBy: $o) { totalCount } }`
		dir    = `query($d: OrderDirection!) { batchOperationItems(orderBy: [{field: ITEM_KEY, direction: $d}]) { totalCount } }`
		filter = `query($f: BatchOperationItemFilter) { batchOperationItems(filter: $f) { totalCount } }`
		states = `query($s: [BatchOperationItemState!]) { batchOperationItems(filter: {state: {in: $s}}) { totalCount } }`
	)
	for _, tt := range []struct {
		name, query string
		vars        map[string]any
		msg         string
		path        []any
	}{
		{"generated enum in a list of input objects", order, map[string]any{"o": []any{map[string]any{"field": "ITEM_KEY"}, map[string]any{"field": "ITEM_KeY"}}},
			"ITEM_KeY is not a valid BatchOperationItemOrderField", []any{"variable", "o", 1.0, "field"}},
		{"an input object alone for its list", order, map[string]any{"o": map[string]any{"field": "state"}},
			"state is not a valid BatchOperationItemOrderField", []any{"variable", "o", 0.0, "field"}},
		{"generated enum alone", dir, map[string]any{"d": "desc"},
			"desc is not a valid OrderDirection", []any{"variable", "d"}},
		{"storage enum nested in a filter", filter, map[string]any{"f": map[string]any{"state": map[string]any{"in": []any{"FAILED", "failed"}}}},
			"failed is not a valid BatchOperationItemState", []any{"variable", "f", "state", "in", 1.0}},
		{"storage enum alone for its list", states, map[string]any{"s": "Failed"},
			"Failed is not a valid BatchOperationItemState", []any{"variable", "s", 0.0}},
		{"no spelling at all (gqlparser's own check)", order, map[string]any{"o": []any{map[string]any{"field": "NOPE"}}},
			"NOPE is not a valid BatchOperationItemOrderField", []any{"variable", "o", 0.0, "field"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(map[string]any{"query": tt.query, "variables": tt.vars})
			require.Len(t, r.Errors, 1)
			assert.Nil(t, r.Data, "nothing ran")
			assert.Equal(t, CodeValidationFailed, r.Errors[0].Code())
			assert.Equal(t, tt.msg, r.Errors[0].Message)
			assert.Equal(t, tt.path, r.Errors[0].Path)
			assert.Less(t, r.Status, http.StatusInternalServerError)
		})
	}

	// Exact spellings run.
	failed := at(t, e.query(filter, map[string]any{"f": map[string]any{"state": map[string]any{"in": []any{"FAILED"}}}}),
		"batchOperationItems", "totalCount")
	assert.NotZero(t, failed)
	assert.Equal(t, failed, at(t, e.query(states, map[string]any{"s": "FAILED"}), "batchOperationItems", "totalCount"))
	e.query(dir, map[string]any{"d": "DESC"})
	e.query(order, map[string]any{"o": []any{map[string]any{"field": "PROCESSED_DATE", "direction": "DESC"}}})
}
