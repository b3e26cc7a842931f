package importer

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/batchql/batchql/storage"
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

// parseDate parses a date of the one grammar, storage.ParseTime's
// (RFC 3339 with 0 to 9 fraction digits, and Camunda 7's +0200 offsets).
func parseDate(b []byte) (time.Time, bool) {
	t, err := storage.ParseTime(b)
	return t, err == nil
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
