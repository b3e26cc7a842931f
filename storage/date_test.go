package storage

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTime(t *testing.T) {
	good := map[string]string{
		"2024-05-14T09:12:03.417+0200":        "2024-05-14T07:12:03.417Z",
		"2024-05-14T09:12:03.417-0130":        "2024-05-14T10:42:03.417Z",
		"2024-05-14T09:12:03+0200":            "2024-05-14T07:12:03Z",
		"2025-06-04T11:13:43.123Z":            "2025-06-04T11:13:43.123Z",
		"2025-06-04T11:13:43Z":                "2025-06-04T11:13:43Z",
		"2025-06-04T11:13:43.1Z":              "2025-06-04T11:13:43.1Z",
		"2025-06-04T11:13:43.123456789Z":      "2025-06-04T11:13:43.123456789Z",
		"2025-06-04T11:13:43.123456789+02:00": "2025-06-04T09:13:43.123456789Z",
		"2025-06-04T11:13:43.000000001-00:00": "2025-06-04T11:13:43.000000001Z",
		"2025-06-04t11:13:43z":                "2025-06-04T11:13:43Z",
		"2024-02-29T00:00:00+00:00":           "2024-02-29T00:00:00Z",
		"2024-12-31T23:30:00-01:00":           "2025-01-01T00:30:00Z",
		"2025-06-04T11:13:43+23:59":           "2025-06-03T11:14:43Z",
		"0000-01-01T00:00:00Z":                "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z":      "9999-12-31T23:59:59.999999999Z",
	}
	for in, want := range good {
		got, err := ParseTime(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, *impTime(want), got, in)
			assert.Equal(t, time.UTC, got.Location(), in)
		}
	}
	for _, in := range []string{
		"", "2025-06-04", "2025-06-04T11:13:43", "2025-06-04T11:13:43.Z", "2025-06-04T11:13:43.1234567890Z",
		"2025-06-04 11:13:43Z", "2025-02-29T11:13:43Z", "2025-06-31T11:13:43Z", "2025-00-04T11:13:43Z",
		"2025-06-04T24:00:00Z", "2025-06-04T11:60:00Z", "2025-06-04T11:13:60Z", "2025-06-04T11:13:43+2:00",
		"2025-06-04T11:13:43+02", "2025-06-04T11:13:43+02:0x", "2025-06-04T11:13:43+24:00", "2025-06-04T11:13:43UTC",
		"2025-6-04T11:13:43Z", "+2025-06-04T11:13:43Z", "2025-06-04T11:13:43.12a3Z", "2025-06-04T11:13:43Z ",
		"2025-06-04T11:13:43,123Z", "2025-06-04T11:13:43+0260", "2025-06-04T11:13:43 0200", "2025-06-04T11:13:43+02:000",
		"yesterday", "2025-06-04 11:13:43",
	} {
		_, err := ParseTime(in)
		assert.Error(t, err, in)
	}
}

// oldFilterGrammar is the grammar DateTime arguments had before ParseTime:
// time.Parse's RFC 3339 with 1-9 fraction digits and 'Z' or ±hh:mm, any
// case. ParseTime must accept all of it, at the same instant.
func oldFilterGrammar(s string) (time.Time, bool) {
	norm := strings.ToUpper(s)
	t, err := time.Parse(time.RFC3339Nano, norm)
	if err != nil || len(norm) < 20 {
		return time.Time{}, false
	}
	rest := norm[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return time.Time{}, false
		}
		rest = rest[n:]
	}
	ok := rest == "Z" || len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':'
	return t, ok
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2025-06-04T11:13:43.123Z", "2024-05-14T09:12:03.417+0200", "2025-06-04t11:13:43.123456789-07:30",
		"2024-02-29T23:59:59Z", "2025-06-04T11:13:43,5Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if old, ok := oldFilterGrammar(s); ok {
			require.NoError(t, err, "%q was accepted before", s)
			require.True(t, old.Equal(got), "%q: %v, was %v", s, got, old)
		}
		if err != nil {
			return
		}
		// Whatever ParseTime accepts is RFC 3339 once the offset has its colon.
		norm := strings.ToUpper(s)
		if n := len(norm); norm[n-1] != 'Z' && norm[n-3] != ':' {
			norm = norm[:n-2] + ":" + norm[n-2:]
		}
		want, perr := time.Parse(time.RFC3339Nano, norm)
		require.NoError(t, perr, "%q (as %q)", s, norm)
		require.True(t, want.Equal(got), "%q: %v, time.Parse says %v", s, got, want)
	})
}
