package globalid

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestRoundTrip(t *testing.T) {
	long := string(make([]byte, 300)) // past the stack buffer
	tests := []struct {
		id   string
		want ID
	}{
		{Batch("3f0c8a52"), ID{Type: TypeBatch, Key: "3f0c8a52"}},
		{Batch("a:b"), ID{Type: TypeBatch, Key: "a:b"}},
		{Operation("2251799813685249"), ID{Type: TypeBatchOperation, Key: "2251799813685249"}},
		{Item("1", "2"), ID{Type: TypeItem, Key: "1", ItemKey: "2"}},
		{Item("a:b", "c"), ID{Type: TypeItem, Key: "a:b", ItemKey: "c"}},
		{Item("a", "b:c"), ID{Type: TypeItem, Key: "a", ItemKey: "b:c"}},
		{Item("12:3", ":4"), ID{Type: TypeItem, Key: "12:3", ItemKey: ":4"}},
		{Item(long, long), ID{Type: TypeItem, Key: long, ItemKey: long}},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.id)
		assert.True(t, ok, tt.id)
		assert.Equal(t, tt.want, got)
	}
	// Distinct keys give distinct ids; ids are stable text.
	assert.NotEqual(t, Item("a:b", "c"), Item("a", "b:c"))
	assert.Equal(t, "QmF0Y2g6MQ", Batch("1"))
	assert.Equal(t, "QmF0Y2hPcGVyYXRpb25JdGVtOjE6MToy", Item("1", "2"))
}

func TestParseRejects(t *testing.T) {
	for _, id := range []string{
		"", "!!", "QmF0Y2g6", // "Batch:"
		"QmF0Y2g6MQ==",                       // padded
		"Rm9vOjE",                            // "Foo:1"
		"QmF0Y2hPcGVyYXRpb25JdGVtOjI6MToy",   // item, length 2 of "1"
		"QmF0Y2hPcGVyYXRpb25JdGVtOjAxOjE6Mg", // leading zero
	} {
		_, ok := Parse(id)
		assert.False(t, ok, id)
	}
}

func TestAppendIsQuotedID(t *testing.T) {
	for _, k := range []string{"1", "2251799813685249", string(make([]byte, 300))} {
		assert.Equal(t, `"`+Batch(k)+`"`, string(AppendBatch(nil, k)))
		assert.Equal(t, `"`+Operation(k)+`"`, string(AppendOperation([]byte{}, k)))
		assert.Equal(t, `x"`+Item(k, "7:8")+`"`, string(AppendItem([]byte("x"), k, "7:8")))
	}
}

func TestEncodeAllocatesOnce(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { _ = Item("2251799813685249", "2251799813690746") })
	assert.Equal(t, 1.0, n)
}

// FuzzGlobalID: any string either fails to decode or decodes to an id whose
// canonical encoding is that very string; and every id made of non-empty,
// valid UTF-8 keys decodes back to its keys.
func FuzzGlobalID(f *testing.F) {
	f.Add(Batch("1"), "2251799813685249", "2251799813690746")
	f.Add(Operation("8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13"), "a:b", ":")
	f.Add(Item("12:3", "x"), "1", "")
	f.Add("QmF0Y2g6", "", "x")     // "Batch:"
	f.Add("QmF0Y2g6MQ==", "é", "") // padded
	f.Add("!!", "\xff", "\x00")
	f.Fuzz(func(t *testing.T, s, key, item string) {
		if g, ok := Parse(s); ok {
			var again string
			switch g.Type {
			case TypeBatch:
				again = Batch(g.Key)
			case TypeBatchOperation:
				again = Operation(g.Key)
			case TypeItem:
				again = Item(g.Key, g.ItemKey)
			default:
				t.Fatalf("%q decoded to unknown type %q", s, g.Type)
			}
			assert.Equal(t, s, again, "not the canonical encoding")
			assert.NotEmpty(t, g.Key)
		}
		if key == "" || !utf8.ValidString(key) {
			return
		}
		for _, c := range []struct {
			id   string
			want ID
		}{
			{Batch(key), ID{Type: TypeBatch, Key: key}},
			{Operation(key), ID{Type: TypeBatchOperation, Key: key}},
		} {
			g, ok := Parse(c.id)
			assert.True(t, ok, "%q", c.id)
			assert.Equal(t, c.want, g)
		}
		if item != "" && utf8.ValidString(item) {
			g, ok := Parse(Item(key, item))
			assert.True(t, ok)
			assert.Equal(t, ID{Type: TypeItem, Key: key, ItemKey: item}, g)
		}
	})
}
