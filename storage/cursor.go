package storage

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync"
)

// A cursor is base64url (no padding) of
//
//	version(1) ‖ connection byte ‖ uvarint len(sig) ‖ sig ‖ sort values ‖ primary key
//
// where sig names the orderBy it was made under ("START_DATE:D,STATE") and
// the sort values and key use the order-preserving component encodings, so a
// cursor is a position, not an offset: a page costs the same at any depth.
const cursorVersion = 1

// orderSig is the canonical text of an orderBy list.
func orderSig(order []Order) string {
	var b strings.Builder
	for i, o := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(o.Field)
		if o.Desc {
			b.WriteString(":D")
		}
	}
	return b.String()
}

// position is a decoded cursor: the raw sort components (one per orderBy
// entry) and the encoded primary key.
type position struct {
	comps [][]byte
	pk    []byte
}

// cursorSource makes the cursors of a page's records, in the layout above,
// encoded from the record: its sort values, then its primary key.
type cursorSource[R any] struct {
	k     *kind[R]
	order []Order
	sig   string
}

func (s *cursorSource[R]) cursor(rec *R) string {
	// The field encoders are func values, so a stack buffer would escape:
	// a pooled one leaves the cursor text as the only allocation.
	bp := cursorBufs.Get().(*[]byte)
	b := appendCursorHead((*bp)[:0], s.k.conn, s.sig)
	for _, o := range s.order {
		b = s.k.fields[o.Field](b, rec)
	}
	b = s.k.pk(b, rec)
	var out [256]byte
	var c string
	if n := base64.RawURLEncoding.EncodedLen(len(b)); n <= len(out) {
		base64.RawURLEncoding.Encode(out[:n], b)
		c = string(out[:n])
	} else {
		c = base64.RawURLEncoding.EncodeToString(b)
	}
	*bp = b
	cursorBufs.Put(bp)
	return c
}

var cursorBufs = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// appendCursorHead appends what precedes a cursor's sort values and key:
// the version, the connection and the orderBy signature.
func appendCursorHead(b []byte, conn byte, sig string) []byte {
	b = append(b, cursorVersion, conn)
	b = binary.AppendUvarint(b, uint64(len(sig)))
	return append(b, sig...)
}

// decodeCursor parses a cursor of connection conn made under order; arg
// names the argument for errors.
func decodeCursor(arg, s string, conn byte, sig string, nOrder, nPK int) (*position, error) {
	bad := func(reason string) error {
		v := s
		if len(v) > 80 {
			v = v[:80] + "…"
		}
		return &InputError{Arg: arg, Value: v, Reason: reason}
	}
	// Strict decoding and no line breaks: one cursor has one spelling.
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || strings.ContainsAny(s, "\r\n") || len(b) < 3 || b[0] != cursorVersion {
		return nil, bad("not a cursor of this API")
	}
	if b[1] != conn {
		return nil, bad("cursor belongs to another connection")
	}
	n, w := binary.Uvarint(b[2:])
	if w <= 0 || uint64(len(b)-2-w) < n {
		return nil, bad("not a cursor of this API")
	}
	rest := b[2+w:]
	if string(rest[:n]) != sig {
		return nil, bad("cursor was made under another orderBy")
	}
	rest = rest[n:]
	p := &position{}
	for range nOrder {
		l, err := skipComponent(rest)
		if err != nil {
			return nil, bad("cursor is damaged")
		}
		p.comps = append(p.comps, rest[:l])
		rest = rest[l:]
	}
	pk := rest
	for range nPK {
		if len(rest) == 0 || rest[0] != tagKeyNum && rest[0] != tagKeyStr {
			return nil, bad("cursor is damaged")
		}
		l, err := skipComponent(rest)
		if err != nil {
			return nil, bad("cursor is damaged")
		}
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return nil, bad("cursor is damaged")
	}
	p.pk = pk
	return p, nil
}

// orderedKey is the position's key in the requested order: components of
// DESC entries are inverted, and the primary key follows in the direction of
// the last entry. Comparing ordered keys bytewise compares positions.
func orderedKey(b []byte, order []Order, comps [][]byte, pk []byte) []byte {
	for i, o := range order {
		if o.Desc {
			b = invert(b, comps[i])
		} else {
			b = append(b, comps[i]...)
		}
	}
	if len(order) > 0 && order[len(order)-1].Desc {
		return invert(b, pk)
	}
	return append(b, pk...)
}

// pkComponent returns the i-th component of an encoded primary key.
func pkComponent(pk []byte, i int) []byte {
	for j := 0; ; j++ {
		n, err := skipComponent(pk)
		if err != nil {
			return nil
		}
		if j == i {
			return pk[:n]
		}
		pk = pk[n:]
	}
}
