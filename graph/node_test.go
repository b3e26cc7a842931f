package graph

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
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
		{"batch", batchID(uuidBatch), map[string]any{"__typename": "Batch", "id": batchID(uuidBatch), "batchId": uuidBatch}},
		{"operation", operationID(opL), map[string]any{"__typename": "BatchOperation", "id": operationID(opL), "batchOperationKey": opL}},
		{"item", itemID(opB, itemB1), map[string]any{"__typename": "BatchOperationItem", "id": itemID(opB, itemB1),
			"batchOperationKey": opB, "itemKey": itemB1}},
		{"unknown batch", batchID("nope"), nil},
		{"unknown operation", operationID("1"), nil},
		{"unknown item", itemID(opB, "1"), nil},
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
		itemID(opMissing, "1"), batchID("1"), batchID("missing"), operationID(opB), itemID(opA, "100"), batchID("1"),
	}})
	assert.Equal(t, []any{
		map[string]any{"__typename": "BatchOperationItem", "id": itemID(opMissing, "1")},
		map[string]any{"__typename": "Batch", "id": batchID("1")},
		nil,
		map[string]any{"__typename": "BatchOperation", "id": operationID(opB)},
		map[string]any{"__typename": "BatchOperationItem", "id": itemID(opA, "100")},
		map[string]any{"__typename": "Batch", "id": batchID("1")},
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
	err := e.queryErr(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{batchID("1"), "garbage"}})
	assert.Equal(t, CodeBadUserInput, err.Code())
	assert.Contains(t, err.Message, `argument "ids[1]" (value "garbage")`)
}

func TestGlobalIDs(t *testing.T) {
	tests := []struct {
		id   string
		want globalID
	}{
		{batchID("3f0c8a52"), globalID{typ: typeBatch, key: "3f0c8a52"}},
		{batchID("a:b"), globalID{typ: typeBatch, key: "a:b"}},
		{operationID("2251799813685249"), globalID{typ: typeBatchOperation, key: "2251799813685249"}},
		{itemID("1", "2"), globalID{typ: typeItem, key: "1", itemKey: "2"}},
		{itemID("a:b", "c"), globalID{typ: typeItem, key: "a:b", itemKey: "c"}},
		{itemID("a", "b:c"), globalID{typ: typeItem, key: "a", itemKey: "b:c"}},
		{itemID("12:3", ":4"), globalID{typ: typeItem, key: "12:3", itemKey: ":4"}},
	}
	for _, tt := range tests {
		got, ok := parseID(tt.id)
		assert.True(t, ok, tt.id)
		assert.Equal(t, tt.want, got)
	}
	// Distinct keys give distinct ids; ids are stable text.
	assert.NotEqual(t, itemID("a:b", "c"), itemID("a", "b:c"))
	assert.Equal(t, "QmF0Y2g6MQ", batchID("1"))
}
