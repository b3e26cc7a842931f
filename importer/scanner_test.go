package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

func TestParseDate(t *testing.T) {
	good := map[string]string{
		"2024-05-14T09:12:03.417+0200":        "2024-05-14T07:12:03.417Z",
		"2024-05-14T09:12:03.417-0130":        "2024-05-14T10:42:03.417Z",
		"2025-06-04T11:13:43.123Z":            "2025-06-04T11:13:43.123Z",
		"2025-06-04T11:13:43Z":                "2025-06-04T11:13:43Z",
		"2025-06-04T11:13:43.1Z":              "2025-06-04T11:13:43.1Z",
		"2025-06-04T11:13:43.123456789Z":      "2025-06-04T11:13:43.123456789Z",
		"2025-06-04T11:13:43.123456789+02:00": "2025-06-04T09:13:43.123456789Z",
		"2025-06-04t11:13:43z":                "2025-06-04T11:13:43Z",
		"2024-02-29T00:00:00+00:00":           "2024-02-29T00:00:00Z",
		"2024-12-31T23:30:00-01:00":           "2025-01-01T00:30:00Z",
	}
	for in, want := range good {
		got, ok := parseDate([]byte(in))
		if assert.True(t, ok, in) {
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
	} {
		_, ok := parseDate([]byte(in))
		assert.False(t, ok, in)
	}
	// dates beyond the stored range are an error, not a silent wrap
	s := impOpen(t)
	_, err := File(context.Background(), s, impFile(t, "d.json",
		`{"id":"b","type":"t","totalJobs":1,"startTime":"2300-01-01T00:00:00Z"}`), Options{})
	var ie *Error
	require.True(t, errors.As(err, &ie))
	assert.Equal(t, "startTime", ie.Field)
	assert.Contains(t, ie.Reason, "out of range")
}

// The scanner accepts exactly what encoding/json accepts, also when the
// input arrives one byte at a time and the buffer is tiny.
func TestImportScannerMatchesEncodingJSON(t *testing.T) {
	values := []string{
		`0`, `-0`, `1`, `-1`, `12.5`, `1e3`, `1E+3`, `1e-3`, `-0.0e0`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `0x1`, `1.5.2`,
		`""`, `"a"`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u00e9"`, `"\u00E9"`, `"\u00g9"`, `"\x"`, `"a` + "\n" + `"`, `"é😀"`,
		`"unterminated`, `true`, `false`, `null`, `tru`, `nul`, `nulll`, `True`,
		`[]`, `[1,2]`, `[1,]`, `[,1]`, `[1 2]`, `{}`, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":}`, `{"a":1 "b":2}`,
		`[[[[[]]]]]`, `{"a":{"b":{"c":[{"d":null}]}}}`, `[1,{"a":[true,false]}]`, "[\n1\r\n,\t2 ]", `{"a":1}}`, `[1]]`,
	}
	for _, v := range values {
		doc := `{"k":` + v + `}`
		want := json.Valid([]byte(doc))
		for _, size := range []int{1, 4, 256 << 10} {
			sc := newJSONScannerSize(iotest.OneByteReader(strings.NewReader(doc)), size)
			var err error
			n := 0
			for err == nil {
				_, err = sc.next()
				n++
			}
			var ie *Error
			malformed := errors.As(err, &ie) && strings.Contains(ie.Reason, "malformed JSON")
			if want {
				assert.Equal(t, 2, n, "%s (buffer %d): one record, then EOF: %v", doc, size, err)
			}
			assert.Equal(t, !want, malformed, "%s (buffer %d): %v", doc, size, err)
		}
	}
	// keys and values survive buffer compaction and growth
	doc := `{"batchOperationKey":"` + strings.Repeat("k", 300) + `","batchOperationType":"ADD_VARIABLE","state":"ACTIVE","pad":"` +
		strings.Repeat("p", 1000) + `","actorId":"\u0061` + strings.Repeat("a", 50) + `"}` + "\n"
	sc := newJSONScannerSize(iotest.HalfReader(strings.NewReader(doc+doc+doc)), 8)
	var p Patch
	for i := 0; i < 3; i++ {
		rec, err := sc.next()
		require.NoError(t, err)
		require.NoError(t, p.parse(rec))
		assert.Equal(t, strings.Repeat("k", 300), p.o.BatchOperationKey)
		assert.Equal(t, strings.Repeat("a", 51), *p.o.ActorID)
		assert.Equal(t, int64(i+1), rec.line)
	}
}

func BenchmarkImportNDJSON(b *testing.B) {
	const n = 200000
	path := filepath.Join(b.TempDir(), "items.ndjson")
	impWriteItems(b, path, n, false)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := storage.Open(filepath.Join(b.TempDir(), fmt.Sprintf("b%d.db", i)), storage.Options{})
		require.NoError(b, err)
		b.StartTimer()
		start := time.Now()
		st, err := File(context.Background(), s, path, Options{})
		total += time.Since(start)
		b.StopTimer()
		require.NoError(b, err)
		require.Equal(b, int64(n), st.Records)
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "records/s")
}

// BenchmarkImportParseNDJSON measures one pass of scanning and validating,
// without the database.
func BenchmarkImportParseNDJSON(b *testing.B) {
	const n = 200000
	path := filepath.Join(b.TempDir(), "items.ndjson")
	impWriteItems(b, path, n, false)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		require.NoError(b, err)
		sc := newJSONScanner(f)
		var p Patch
		for {
			rec, err := sc.next()
			if err != nil {
				break
			}
			if err := p.parse(rec); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// FuzzImportScanner checks that the scanner accepts exactly the documents
// encoding/json accepts, whatever the read sizes, and never panics.
func FuzzImportScanner(f *testing.F) {
	for _, s := range []string{`1`, `"a\u00e9"`, `{"a":[1,{"b":null}]}`, `[1,]`, `tru`, `-0.5e+3`, `"\ud83d"`} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, v string, size uint8) {
		doc := `{"k":` + v + `}`
		want := json.Valid([]byte(doc))
		sc := newJSONScannerSize(iotest.HalfReader(strings.NewReader(doc)), int(size)+1)
		rec, err := sc.next()
		if want {
			if err != nil {
				t.Fatalf("%q: %v", doc, err)
			}
			if rec.num != 1 {
				t.Fatalf("%q: record %d", doc, rec.num)
			}
			if _, err := sc.next(); err != io.EOF {
				t.Fatalf("%q: want EOF, got %v", doc, err)
			}
			return
		}
		for err == nil {
			_, err = sc.next()
		}
		if err != io.EOF {
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("%q: not an Error: %v", doc, err)
			}
			return
		}
		// accepted: only right when the document is a run of valid values
		dec := json.NewDecoder(strings.NewReader(doc))
		for {
			var x json.RawMessage
			if derr := dec.Decode(&x); derr == io.EOF {
				return
			} else if derr != nil {
				t.Fatalf("%q: invalid (%v), but the scanner accepted it", doc, derr)
			}
		}
	})
}

// FuzzImportRecords feeds arbitrary input through the scanner and the
// record validation: bad input must give an Error, never a panic.
func FuzzImportRecords(f *testing.F) {
	for _, name := range impAll {
		data, err := os.ReadFile(impFixture(name))
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"id":"b","totalJobs":1,"type":"t","startTime":"2024-05-14T09:12:03.417+0200","failedJobs":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := newJSONScannerSize(bytes.NewReader(data), 16)
		var p Patch
		for {
			rec, err := sc.next()
			if err == io.EOF {
				return
			}
			if err == nil {
				err = p.parse(rec)
			}
			if err != nil {
				var ie *Error
				if !errors.As(err, &ie) {
					t.Fatalf("not an Error: %v", err)
				}
				_ = ie.Error()
				return
			}
		}
	})
}
