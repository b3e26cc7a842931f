package graph

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
)

// appendEvent appends to b the JSON of v, one of gqlgen's WebSocket
// messages, exactly as json.Marshal(v) would write it, when v is an event
// (graphql-transport-ws "next", graphql-ws "data") whose id needs no
// escaping; else it reports false and the caller marshals v.
//
// gqlgen's messages are structs of its transport package (unexported, one
// a protocol) with the fields Payload json.RawMessage `json:"payload,
// omitempty"`, ID string `json:"id,omitempty"` and Type, a string type
// whose MarshalText returns it; layoutOf checks that once per type. An
// event's payload is gqlgen's json.Marshal of the graphql.Response, so
// compact and HTML-escaped already: json.Marshal would copy it unchanged,
// after scanning it once more. (Other messages' payloads may come from the
// client, a ping's echoed by the pong: they go through json.Marshal.)
func appendEvent(b []byte, v any) ([]byte, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return b, false
	}
	rv = rv.Elem()
	l := layoutOf(rv.Type())
	if !l.ok {
		return b, false
	}
	typ := rv.Field(l.typ).String()
	if typ != "next" && typ != "data" {
		return b, false
	}
	id := rv.Field(l.id).String()
	if !plainJSON(id) {
		return b, false
	}
	payload := rv.Field(l.payload).Bytes()
	b = append(b, '{')
	if len(payload) > 0 {
		b = append(b, `"payload":`...)
		b = append(b, payload...)
		b = append(b, ',')
	}
	if id != "" {
		b = append(b, `"id":"`...)
		b = append(b, id...)
		b = append(b, `",`...)
	}
	b = append(b, `"type":"`...)
	b = append(b, typ...)
	return append(b, `"}`...), true
}

// plainJSON reports whether s needs no escaping in a JSON string that
// json.Marshal writes (printable ASCII other than " \\ < > &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// msgLayout is where a message type has the fields appendEvent writes; ok
// says it has them, as json.Marshal writes them.
type msgLayout struct {
	payload, id, typ int
	ok               bool
}

var msgLayouts sync.Map // reflect.Type → msgLayout

func layoutOf(t reflect.Type) msgLayout {
	if l, ok := msgLayouts.Load(t); ok {
		return l.(msgLayout)
	}
	l := findLayout(t)
	msgLayouts.Store(t, l)
	return l
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func findLayout(t reflect.Type) msgLayout {
	l := msgLayout{payload: -1, id: -1, typ: -1}
	if t.Kind() != reflect.Struct {
		return l
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		switch {
		case !f.IsExported():
			continue
		case f.Name == "Payload" && f.Type == rawMessageType && tag == "payload,omitempty":
			l.payload = i
		case f.Name == "ID" && f.Type == reflect.TypeFor[string]() && tag == "id,omitempty":
			l.id = i
		case f.Name == "Type" && f.Type.Kind() == reflect.String && tag == "type" && textIsItself(f.Type):
			l.typ = i
		default:
			return l // a field appendEvent would not write
		}
	}
	// The fields in this order, as json.Marshal writes them.
	l.ok = l.payload >= 0 && l.payload < l.id && l.id < l.typ
	return l
}

// textIsItself reports whether the string type t marshals as its value
// for the types appendEvent writes: it has no MarshalJSON, and its
// MarshalText, if any, returns them unchanged.
func textIsItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	marshaler, texter := reflect.TypeFor[json.Marshaler](), reflect.TypeFor[encoding.TextMarshaler]()
	if pt.Implements(marshaler) { // t's methods are pt's too
		return false
	}
	if !pt.Implements(texter) {
		return true
	}
	for _, s := range []string{"next", "data"} {
		v := reflect.New(t)
		v.Elem().SetString(s)
		text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil || string(text) != s {
			return false
		}
	}
	return true
}
