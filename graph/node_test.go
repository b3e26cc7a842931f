package graph

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/batchql/batchql/globalid"
)

func TestNode(t *testing.T) {
	e := fixtureEnv(t)
	const q = `query($id: ID!) { node(id: $id) { __typename id
		... on Batch { batchId }
		... on BatchOperation { batchOperationKey }
		... on BatchOperationItem { batchOperationKey itemKey } } }`
	tests := []struct {
		name string
		id   string
		want map[string]any
	}{
		{"batch", globalid.Batch(uuidBatch), map[string]any{"__typename": "Batch", "id": globalid.Batch(uuidBatch), "batchId": uuidBatch}},
		{"operation", globalid.Operation(opL), map[string]any{"__typename": "BatchOperation", "id": globalid.Operation(opL), "batchOperationKey": opL}},
		{"item", globalid.Item(opB, itemB1), map[string]any{"__typename": "BatchOperationItem", "id": globalid.Item(opB, itemB1),
			"batchOperationKey": opB, "itemKey": itemB1}},
		{"unknown batch", globalid.Batch("nope"), nil},
		{"unknown operation", globalid.Operation("1"), nil},
		{"unknown item", globalid.Item(opB, "1"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := e.query(q, map[string]any{"id": tt.id})
			if tt.want == nil {
				assert.Nil(t, data["node"])
				return
			}
			assert.Equal(t, tt.want, data["node"])
		})
	}

	// The id a record reports resolves back to it.
	data := e.query(`{ batchOperationItems(first: 3) { nodes { id itemKey } } }`, nil)
	for _, n := range collect(t, data, "batchOperationItems", "nodes") {
		got := e.query(q, map[string]any{"id": at(t, n, "id")})
		assert.Equal(t, at(t, n, "itemKey"), at(t, got, "node", "itemKey"))
	}
}

func TestNodes(t *testing.T) {
	e := fixtureEnv(t)
	data := e.query(`query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, map[string]any{"ids": []string{
		globalid.Item(opMissing, "1"), globalid.Batch("1"), globalid.Batch("missing"), globalid.Operation(opB), globalid.Item(opA, "100"), globalid.Batch("1"),
	}})
	assert.Equal(t, []any{
		map[string]any{"__typename": "BatchOperationItem", "id": globalid.Item(opMissing, "1")},
		map[string]any{"__typename": "Batch", "id": globalid.Batch("1")},
		nil,
		map[string]any{"__typename": "BatchOperation", "id": globalid.Operation(opB)},
		map[string]any{"__typename": "BatchOperationItem", "id": globalid.Item(opA, "100")},
		map[string]any{"__typename": "Batch", "id": globalid.Batch("1")},
	}, data["nodes"])

	data = e.query(`{ nodes(ids: []) { id } }`, nil)
	assert.Equal(t, []any{}, data["nodes"])
}

func TestMalformedNodeIDs(t *testing.T) {
	e := fixtureEnv(t)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, id := range []string{
		"", "!!!", "Batch:1", enc("Batch:1") + "=", base64.StdEncoding.EncodeToString([]byte("Batch:1?>")),
		enc("Batch"), enc("Batch:"), enc("Unknown:1"), enc("BatchOperationItem:3:100"),
		enc("BatchOperationItem:3:100:"), enc("BatchOperationItem:03:100:1"), enc("BatchOperationItem:x:100:1"),
		enc("BatchOperationItem:4:100:1"), enc("\xff\xfe"),
	} {
		t.Run(id, func(t *testing.T) {
			err := e.queryErr(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
			assert.Equal(t, CodeBadUserInput, err.Code())
			assert.Contains(t, err.Message, `argument "id"`)
			assert.Contains(t, err.Message, quote(id))
			assert.Equal(t, []any{"node"}, err.Path)
		})
	}
	err := e.queryErr(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{globalid.Batch("1"), "garbage"}})
	assert.Equal(t, CodeBadUserInput, err.Code())
	assert.Contains(t, err.Message, `argument "ids[1]" (value "garbage")`)
}
