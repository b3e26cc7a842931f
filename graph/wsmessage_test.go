package graph

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/changes"
)

// Message types shaped like gqlgen's (transport/websocket_*.go).
type (
	textType string
	testMsg  struct {
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    textType        `json:"type"`
		noOp    bool
	}
	plainMsg struct { // Type without MarshalText
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
	}
	upperType string
	upperMsg  struct { // MarshalText changes the text
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    upperType       `json:"type"`
	}
	extraMsg struct { // a field appendEvent does not write
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Label   string          `json:"label"`
	}
	orderMsg struct { // another order
		ID      string          `json:"id,omitempty"`
		Payload json.RawMessage `json:"payload,omitempty"`
		Type    string          `json:"type"`
	}
)

func (t textType) MarshalText() ([]byte, error) { return []byte(string(t)), nil }
func (t upperType) MarshalText() ([]byte, error) {
	return []byte(strings.ToUpper(string(t))), nil
}

// eventPayload is an event's payload as gqlgen makes it (sendResponse:
// json.Marshal of the graphql.Response).
func eventPayload(t *testing.T, data string) json.RawMessage {
	b, err := json.Marshal(&graphql.Response{Data: json.RawMessage(data)})
	require.NoError(t, err)
	return b
}

// appendEvent writes what json.Marshal writes, or declines.
func TestAppendEventIsJSONMarshal(t *testing.T) {
	payload := eventPayload(t, `{"batchOperationChanged":{"batchOperationKey":"7","operationsCompletedCount":12,"errorMessage":"a <b> & c"}}`)
	for _, tc := range []struct {
		name string
		msg  any
		fast bool // appendEvent writes it
	}{
		{"next", &testMsg{Payload: payload, ID: "1", Type: "next", noOp: true}, true},
		{"graphql-ws data", &testMsg{Payload: payload, ID: "sub-42", Type: "data"}, true},
		{"no id", &testMsg{Payload: payload, Type: "next"}, true},
		{"no payload", &testMsg{ID: "1", Type: "next"}, true},
		{"plain string type", &plainMsg{Payload: payload, ID: "1", Type: "next"}, true},
		{"an id to escape", &testMsg{Payload: payload, ID: `a"b`, Type: "next"}, false},
		{"an id with HTML", &testMsg{Payload: payload, ID: "<1>", Type: "next"}, false},
		{"a non-ASCII id", &testMsg{Payload: payload, ID: "é", Type: "next"}, false},
		{"ping (its payload may be the client's)", &testMsg{Payload: json.RawMessage(`{ "a": "<b>" }`), Type: "ping"}, false},
		{"complete", &testMsg{ID: "1", Type: "complete"}, false},
		{"MarshalText that changes the text", &upperMsg{Payload: payload, ID: "1", Type: "next"}, false},
		{"another field", &extraMsg{Payload: payload, ID: "1", Type: "next", Label: "x"}, false},
		{"another order", &orderMsg{Payload: payload, ID: "1", Type: "next"}, false},
		{"not a pointer", testMsg{Payload: payload, ID: "1", Type: "next"}, false},
		{"nil", (*testMsg)(nil), false},
		{"a map", &map[string]any{"type": "next"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := appendEvent([]byte("kept"), tc.msg)
			assert.Equal(t, tc.fast, ok)
			if !ok {
				assert.Equal(t, "kept", string(got), "declined: b unchanged")
				return
			}
			want, err := json.Marshal(tc.msg)
			require.NoError(t, err)
			assert.Equal(t, "kept"+string(want), string(got))
		})
	}
}

// gqlgen's own message types take appendEvent's path, and it writes them
// as json.Marshal does.
func TestAppendEventTakesGqlgensMessages(t *testing.T) {
	e, hub := subEnv(t, Config{}, changes.Options{})
	for i, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		c := dialWS(t, e, proto)
		c.subscribe("1", itemsSub, map[string]any{"f": map[string]any{"batchOperationKey": map[string]any{"eq": "7"}}})
		waitActive(t, hub, i+1)
		putItems(t, e.store, mkItem("7", fmt.Sprint(i), "FAILED"))
		assert.Equal(t, fmt.Sprint(i), at(t, data(t, c.next()), "batchOperationItemChanged", "itemKey"))
	}
	found := map[string]bool{}
	msgLayouts.Range(func(k, v any) bool {
		typ := k.(reflect.Type)
		if typ.PkgPath() != "github.com/99designs/gqlgen/graphql/handler/transport" {
			return true
		}
		found[typ.Name()] = v.(msgLayout).ok
		for _, tc := range []struct{ id, typ string }{{"1", "next"}, {"", "data"}} {
			msg := reflect.New(typ)
			msg.Elem().FieldByName("Payload").SetBytes(eventPayload(t, `{"x": "<&>\u2028"}`))
			msg.Elem().FieldByName("ID").SetString(tc.id)
			msg.Elem().FieldByName("Type").SetString(tc.typ)
			want, err := json.Marshal(msg.Interface())
			require.NoError(t, err)
			got, ok := appendEvent(nil, msg.Interface())
			require.True(t, ok, typ.Name())
			assert.Equal(t, string(want), string(got), typ.Name())
		}
		return true
	})
	assert.Equal(t, map[string]bool{"graphqltransportwsMessage": true, "graphqlwsMessage": true}, found)
}
