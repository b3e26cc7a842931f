package storage

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"
)

// Order-preserving, self-delimiting encodings of single values. Every
// component starts with a tag byte; tagNull is larger than every other tag so
// that a null sorts last in ascending order. Because no encoding is a prefix of
// another, components can be concatenated into composite keys (value‖key) and
// compared bytewise, and a whole component can be inverted bit by bit to
// reverse its order for DESC.
const (
	tagKeyNum byte = 0x10 // decimal key within int64: 8 bytes big-endian, sign flipped
	tagKeyStr byte = 0x20 // any other key (UUIDs): escaped bytes
	tagStr    byte = 0x30 // strings and enum names: escaped bytes
	tagTime   byte = 0x40 // instant: 8 bytes of Unix nanoseconds, sign flipped
	tagInt    byte = 0x50 // int64: 8 bytes, sign flipped
	tagBool   byte = 0x60 // one byte 0 or 1
	tagNull   byte = 0xFF
)

var errBadComponent = errors.New("malformed key component")

// appendEscaped writes s so that bytewise order is kept and the end is
// recognisable: 0x00 becomes 0x00 0xFF and the terminator is 0x00 0x01.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, 0, 0xFF)
			continue
		}
		b = append(b, s[i])
	}
	return append(b, 0, 1)
}

// readEscaped returns the unescaped string at the start of b and the rest.
func readEscaped(b []byte) (string, []byte, error) {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			continue
		}
		if i+1 >= len(b) {
			return "", nil, errBadComponent
		}
		switch b[i+1] {
		case 1:
			if out == nil {
				return string(b[:i]), b[i+2:], nil
			}
			out = append(out, b[:i]...)
			return string(out), b[i+2:], nil
		case 0xFF:
			out = append(out, b[:i]...)
			out = append(out, 0)
			b = b[i+2:]
			i = -1
		default:
			return "", nil, errBadComponent
		}
	}
	return "", nil, errBadComponent
}

func appendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// parseNumericKey reports whether k is a decimal integer within int64, the
// contract's test for keys that compare as numbers.
func parseNumericKey(k string) (int64, bool) {
	if k == "" {
		return 0, false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < '0' || c > '9') && !(i == 0 && c == '-' && len(k) > 1) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(k, 10, 64)
	return n, err == nil
}

// shortCanonicalKey is parseNumericKey's common case without strconv
// (a store's keys are mostly engine keys of 16 digits, encoded a dozen
// times per stored item): k is at most 18 digits, maybe after a '-', and
// is how strconv.FormatInt writes its value (no leading zero, no "-0").
// It reports false for every other k, which appendKey then encodes by
// parseNumericKey.
func shortCanonicalKey(k string) (int64, bool) {
	d := k
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 18 || (d[0] == '0' && len(k) > 1) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(d) < len(k) {
		n = -n
	}
	return n, true
}

// appendKey encodes a natural key or id: numeric keys first, in numeric
// order, then every other key bytewise. A numeric key written in a
// non-canonical way ("007") keeps its text after the number, so it stays
// distinct from "7" and sorts right after it.
func appendKey(b []byte, k string) []byte {
	if n, ok := shortCanonicalKey(k); ok {
		b = append(b, tagKeyNum)
		b = appendUint64(b, uint64(n)^(1<<63))
		return append(b, 0)
	}
	if n, ok := parseNumericKey(k); ok {
		b = append(b, tagKeyNum)
		b = appendUint64(b, uint64(n)^(1<<63))
		var d [24]byte // compared in place: FormatInt would allocate per key
		if string(strconv.AppendInt(d[:0], n, 10)) == k {
			return append(b, 0)
		}
		return appendEscaped(append(b, 1), k)
	}
	return appendEscaped(append(b, tagKeyStr), k)
}

func appendOptKey(b []byte, k *string) []byte {
	if k == nil {
		return append(b, tagNull)
	}
	return appendKey(b, *k)
}

func appendStr(b []byte, s string) []byte { return appendEscaped(append(b, tagStr), s) }

func appendOptStr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, tagNull)
	}
	return appendStr(b, *s)
}

func appendTime(b []byte, t time.Time) []byte {
	return appendUint64(append(b, tagTime), uint64(t.UnixNano())^(1<<63))
}

func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, tagNull)
	}
	return appendTime(b, *t)
}

func appendInt(b []byte, v int64) []byte {
	return appendUint64(append(b, tagInt), uint64(v)^(1<<63))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, tagBool, 1)
	}
	return append(b, tagBool, 0)
}

// skipComponent returns the length of the encoded component at the start of b.
func skipComponent(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, errBadComponent
	}
	switch b[0] {
	case tagNull:
		return 1, nil
	case tagBool:
		if len(b) < 2 || b[1] > 1 {
			return 0, errBadComponent
		}
		return 2, nil
	case tagTime, tagInt:
		if len(b) < 9 {
			return 0, errBadComponent
		}
		return 9, nil
	case tagKeyNum:
		if len(b) < 10 {
			return 0, errBadComponent
		}
		switch b[9] {
		case 0:
			return 10, nil
		case 1:
			_, rest, err := readEscaped(b[10:])
			if err != nil {
				return 0, err
			}
			return len(b) - len(rest), nil
		}
		return 0, errBadComponent
	case tagKeyStr, tagStr:
		_, rest, err := readEscaped(b[1:])
		if err != nil {
			return 0, err
		}
		return len(b) - len(rest), nil
	}
	return 0, errBadComponent
}

// readKey decodes a component written by appendKey.
func readKey(b []byte) (string, []byte, error) {
	if len(b) == 0 {
		return "", nil, errBadComponent
	}
	switch b[0] {
	case tagKeyNum:
		n, err := skipComponent(b)
		if err != nil {
			return "", nil, err
		}
		if b[9] == 1 {
			s, _, err := readEscaped(b[10:n])
			return s, b[n:], err
		}
		v := int64(binary.BigEndian.Uint64(b[1:9]) ^ (1 << 63))
		return strconv.FormatInt(v, 10), b[n:], nil
	case tagKeyStr:
		s, rest, err := readEscaped(b[1:])
		return s, rest, err
	}
	return "", nil, errBadComponent
}

// appendKeyText appends the text of the component written by appendKey at
// the start of b to dst and returns it and the rest of b: readKey without
// a string allocation per key.
func appendKeyText(dst, b []byte) ([]byte, []byte, error) {
	if len(b) == 0 {
		return dst, nil, errBadComponent
	}
	switch b[0] {
	case tagKeyNum:
		n, err := skipComponent(b)
		if err != nil {
			return dst, nil, err
		}
		if b[9] == 1 {
			dst, _, err = appendUnescaped(dst, b[10:n])
			return dst, b[n:], err
		}
		v := int64(binary.BigEndian.Uint64(b[1:9]) ^ (1 << 63))
		return strconv.AppendInt(dst, v, 10), b[n:], nil
	case tagKeyStr:
		return appendUnescaped(dst, b[1:])
	}
	return dst, nil, errBadComponent
}

// appendUnescaped is readEscaped appending to dst.
func appendUnescaped(dst, b []byte) ([]byte, []byte, error) {
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			continue
		}
		if i+1 >= len(b) {
			return dst, nil, errBadComponent
		}
		switch b[i+1] {
		case 1:
			return append(dst, b[:i]...), b[i+2:], nil
		case 0xFF:
			dst = append(append(dst, b[:i]...), 0)
			b = b[i+2:]
			i = -1
		default:
			return dst, nil, errBadComponent
		}
	}
	return dst, nil, errBadComponent
}

// prefixEnd returns the smallest key greater than every key starting with p,
// or nil when there is none (p is all 0xFF).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// invert reverses the order of an encoded component for DESC.
func invert(dst, src []byte) []byte {
	for _, c := range src {
		dst = append(dst, ^c)
	}
	return dst
}
