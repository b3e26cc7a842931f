package importer

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// Values. Every raw value is syntactically valid JSON (the scanner checked).

func isNull(raw []byte) bool { return len(raw) == 4 && string(raw) == "null" }

func jsonType(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// unquote returns the contents of a JSON string without escapes, or nil.
func unquote(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' {
		return nil
	}
	return raw[1 : len(raw)-1]
}

// parseString decodes a JSON string value.
func parseString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// isIntText reports whether raw is a JSON integer (no fraction, no exponent).
func isIntText(raw []byte) bool {
	i := 0
	if i < len(raw) && raw[i] == '-' {
		i++
	}
	if i == len(raw) {
		return false
	}
	for ; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

func parseKey(raw []byte) (string, string) {
	switch {
	case isNull(raw):
		return "", "must not be null"
	case raw[0] == '"':
		s, _ := parseString(raw)
		if s == "" {
			return "", "must not be empty"
		}
		return s, ""
	case isIntText(raw):
		return string(raw), ""
	}
	return "", "must be a string or an integer, not " + jsonType(raw)
}

func parseCount(raw []byte) (int, string) {
	const reason = "must be an integer from 0 to 2147483647"
	if len(raw) == 0 || len(raw) > 10 {
		return 0, reason + ", not " + jsonType(raw)
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, reason + ", not " + jsonType(raw)
		}
		n = n*10 + int64(c-'0')
	}
	if n > math.MaxInt32 {
		return 0, reason
	}
	return int(n), ""
}

func parseEnum[E ~string](raw []byte, list []E, typ string) (E, string) {
	in := unquote(raw)
	if in == nil {
		return "", "must be a " + typ + " name, not " + jsonType(raw)
	}
	if bytes.IndexByte(in, '\\') >= 0 {
		s, _ := parseString(raw)
		in = []byte(s)
	}
	for _, v := range list {
		if string(in) == string(v) {
			return v, ""
		}
	}
	names := make([]string, len(list))
	for i, v := range list {
		names[i] = string(v)
	}
	return "", "unknown " + typ + " (want one of " + strings.Join(names, ", ") + ")"
}

var (
	minStoredTime = time.Unix(0, math.MinInt64).UTC()
	maxStoredTime = time.Unix(0, math.MaxInt64).UTC()
)

// parseDate parses yyyy-MM-ddTHH:mm:ss, 0 to 9 fraction digits, and Z,
// ±HH:MM or ±HHMM (Camunda 7), into UTC.
func parseDate(b []byte) (time.Time, bool) {
	num := func(s []byte) int {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	if day > 28 && day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		digits := i - j
		if digits == 0 || digits > 9 {
			return time.Time{}, false
		}
		nsec = num(b[j:i])
		for k := digits; k < 9; k++ {
			nsec *= 10
		}
	}
	zone := b[i:]
	var off int
	switch {
	case len(zone) == 1 && (zone[0] == 'Z' || zone[0] == 'z'):
	case (len(zone) == 6 && zone[3] == ':') || len(zone) == 5:
		if zone[0] != '+' && zone[0] != '-' {
			return time.Time{}, false
		}
		oh := num(zone[1:3])
		om := num(zone[len(zone)-2:])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		off = oh*3600 + om*60
		if zone[0] == '-' {
			off = -off
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), true
}

// shorten returns raw for a message, cut to about 80 characters.
func shorten(raw []byte) string {
	const max = 80
	if len(raw) <= max {
		return string(raw)
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return string(raw[:cut]) + "…"
}
