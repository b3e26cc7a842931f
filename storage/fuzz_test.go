package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzCursor: any string either decodes to a position that re-encodes to
// the same string, or fails with an *InputError naming the argument.
func FuzzCursor(f *testing.F) {
	sig := orderSig([]Order{{Field: "STATE"}, {Field: "START_DATE", Desc: true}})
	f.Add(encodeCursor('O', sig, [][]byte{appendStr(nil, "ACTIVE"), appendOptTime(nil, nil)}, appendKey(nil, "2251799813685249")))
	f.Add(encodeCursor('O', sig, [][]byte{appendStr(nil, "a\x00b"), appendInt(nil, 5)}, appendKey(nil, "8f2b0c5e-1d3a")))
	f.Add("")
	f.Add("AQ")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := decodeCursor("after", s, 'O', sig, 2, 1)
		if err != nil {
			var ie *InputError
			require.True(t, errors.As(err, &ie), "untyped error %v", err)
			assert.Equal(t, "after", ie.Arg)
			return
		}
		assert.Equal(t, s, encodeCursor('O', sig, pos.comps, pos.pk))
	})
}

// FuzzLike compares the matcher with the regexp-based reference.
func FuzzLike(f *testing.F) {
	for _, c := range [][2]string{{"a*c", "abc"}, {`\*?`, "*x"}, {"*a*a*a*", "aaaa"}, {"?", "é"}, {`x\`, "x"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		p, err := compileLike(pat)
		if err != nil {
			var le likeError
			require.True(t, errors.As(err, &le))
			return
		}
		if !utf8.ValidString(s) {
			p.match(s) // must not panic; the reference cannot judge it
			return
		}
		assert.Equal(t, refLike(pat, s), p.match(s), "%q like %q", s, pat)
	})
}

// FuzzKeyOrder: key encodings round-trip and order as the contract says.
func FuzzKeyOrder(f *testing.F) {
	f.Add("7", "007")
	f.Add("-1", "uuid")
	f.Add("a\x00", "a")
	f.Add("9223372036854775808", "1")
	f.Add("-0", "0")
	f.Add("-007", "-123456789012345678")
	f.Add("123456789012345678", "1234567890123456789")
	f.Fuzz(func(t *testing.T, a, b string) {
		if n, ok := shortCanonicalKey(a); ok {
			want, isNum := parseNumericKey(a)
			assert.True(t, isNum && n == want && strconv.FormatInt(n, 10) == a, "shortCanonicalKey(%q) = %d", a, n)
		}
		ea, eb := appendKey(nil, a), appendKey(nil, b)
		got, rest, err := readKey(ea)
		require.NoError(t, err)
		assert.Equal(t, a, got)
		assert.Empty(t, rest)
		text, rest, err := appendKeyText([]byte("x"), append(ea, eb...))
		require.NoError(t, err)
		assert.Equal(t, "x"+a, string(text), "appendKeyText reads what readKey reads")
		assert.Equal(t, eb, rest)
		n, err := skipComponent(append(ea, eb...))
		require.NoError(t, err)
		assert.Equal(t, len(ea), n, "self-delimiting")
		assert.Equal(t, refKeyCmp(&a, &b), bytes.Compare(ea, eb), "%q vs %q", a, b)
	})
}

// FuzzItemsQuery runs arbitrary cursors, like patterns and page sizes
// through a real store: errors are InputErrors, never panics.
func FuzzItemsQuery(f *testing.F) {
	s := openTemp(f)
	randomData(11, 0, 10, 200).load(f, s)
	f.Add("", "*", 5, false)
	f.Add("AUkA", `\`, -1, true)
	f.Fuzz(func(t *testing.T, cursor, like string, n int, back bool) {
		pr := PageRequest{First: &n, After: cursor}
		if back {
			pr = PageRequest{Last: &n, Before: cursor}
		}
		if n > 2000 {
			return
		}
		_, err := s.Items(context.Background(), ItemQuery{
			Filter: BatchOperationItemFilter{ProcessInstanceKey: &StringFilter{Like: &like}},
			Order:  []Order{{Field: "PROCESSED_DATE", Desc: true}}, Page: pr, Count: true})
		if err != nil {
			assert.True(t, IsInputError(err), "untyped error %v", err)
		}
	})
}

// encodeCursor is a cursor spelled out from its parts, the reference the
// fuzz target and its seeds are checked against (pages make theirs with
// cursorSource).
func encodeCursor(conn byte, sig string, comps [][]byte, pk []byte) string {
	b := appendCursorHead(make([]byte, 0, 64), conn, sig)
	for _, c := range comps {
		b = append(b, c...)
	}
	b = append(b, pk...)
	return base64.RawURLEncoding.EncodeToString(b)
}
