package storage

import (
	"context"
	"strconv"
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
			w, err := time.Parse(time.RFC3339Nano, want)
			require.NoError(t, err, want)
			assert.Equal(t, w.UTC(), got, in)
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
		"2025-03-04t11:13:43.9-07:60", "2025-06-04T11:13:43+0060",
		"yesterday", "2025-06-04 11:13:43",
	} {
		_, err := ParseTime(in)
		assert.Error(t, err, in)
	}
}

// oldFilterGrammar is the grammar DateTime arguments had before ParseTime:
// time.Parse's RFC 3339 with 1-9 fraction digits and 'Z' or ±hh:mm, any
// case. ParseTime must accept all of it, at the same instant, except the
// offsets RFC 3339 does not have: time.Parse falls back from its RFC 3339
// path to the layout parser, which takes offset hour 24 and minute 60 on
// purpose ("some people do write offsets of 24 hours or 60 minutes",
// time/format.go); ParseTime rejects them as it rejects hour 24 in the time
// (fuzzing found "2025-03-04t11:13:43.9-07:60").
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
	ok := rest == "Z" || len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		rest[1:3] <= "23" && rest[4:6] <= "59"
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

// Dates filter at the precision they are served (contract §4): a record
// stored with nine fraction digits is served as .123Z, and eq/gte/lte of
// .123Z match it while gt/lt do not, on every kind and with the date both
// as the filter's only field (an index range) and after an index prefix.
func TestDateFiltersCompareServedMilliseconds(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	stored := mustTime(t, "2025-06-04T11:13:43.123456789Z")
	near := []time.Time{ // neighbours just outside that millisecond
		mustTime(t, "2025-06-04T11:13:43.122999999Z"),
		mustTime(t, "2025-06-04T11:13:43.124Z"),
	}
	require.NoError(t, s.Update(ctx, func(w *Writer) error {
		for i, tm := range append([]time.Time{stored}, near...) {
			tm := tm
			key := strconv.Itoa(100 + i)
			if _, err := w.PutBatch(&Batch{BatchID: key, Type: "t", StartTime: &tm}); err != nil {
				return err
			}
			if _, err := w.PutBatchOperation(&BatchOperation{BatchOperationKey: key, BatchOperationType: OperationTypes[0],
				State: OperationStates[0], StartDate: &tm}); err != nil {
				return err
			}
			if _, err := w.PutItem(&BatchOperationItem{BatchOperationKey: "100", ItemKey: key, OperationType: OperationTypes[0],
				State: ItemStates[0], ProcessedDate: &tm}); err != nil {
				return err
			}
		}
		return nil
	}))
	shown := mustTime(t, "2025-06-04T11:13:43.123Z")
	plus2 := mustTime(t, "2025-06-04T13:13:43.123+0200") // the same instant in Camunda 7's form
	require.True(t, shown.Equal(plus2))
	later := mustTime(t, "2025-06-04T11:13:43.123999999Z") // the same millisecond, any nanoseconds
	tp := func(v time.Time) *time.Time { return &v }
	cases := []struct {
		name string
		f    DateTimeFilter
		want []string // keys: 100 is the stored record, 101/102 its neighbours below/above
	}{
		{"eq", DateTimeFilter{Eq: tp(shown)}, []string{"100"}},
		{"eq +0200", DateTimeFilter{Eq: tp(plus2)}, []string{"100"}},
		{"eq, other nanoseconds of that ms", DateTimeFilter{Eq: tp(later)}, []string{"100"}},
		{"gte", DateTimeFilter{Gte: tp(shown)}, []string{"100", "102"}},
		{"lte", DateTimeFilter{Lte: tp(shown)}, []string{"100", "101"}},
		{"lte +0200", DateTimeFilter{Lte: tp(plus2)}, []string{"100", "101"}},
		{"gt", DateTimeFilter{Gt: tp(shown)}, []string{"102"}},
		{"gt, other nanoseconds of that ms", DateTimeFilter{Gt: tp(later)}, []string{"102"}},
		{"lt", DateTimeFilter{Lt: tp(shown)}, []string{"101"}},
		{"lt, other nanoseconds of that ms", DateTimeFilter{Lt: tp(later)}, []string{"101"}},
		{"gte lte: the one ms", DateTimeFilter{Gte: tp(shown), Lte: tp(shown)}, []string{"100"}},
		{"gt lt: empty", DateTimeFilter{Gt: tp(shown), Lt: tp(shown)}, nil},
		{"beyond the stored range", DateTimeFilter{Gt: tp(mustTime(t, "1200-01-01T00:00:00Z")), Lt: tp(mustTime(t, "3000-01-01T00:00:00Z"))},
			[]string{"100", "101", "102"}},
		{"after the stored range", DateTimeFilter{Gte: tp(mustTime(t, "3000-01-01T00:00:00Z"))}, nil},
		{"before the stored range", DateTimeFilter{Lte: tp(mustTime(t, "1200-01-01T00:00:00Z"))}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.f
			bp, err := s.Batches(ctx, BatchQuery{Filter: BatchFilter{StartTime: &f}, Count: true})
			require.NoError(t, err)
			op, err := s.BatchOperations(ctx, BatchOperationQuery{Filter: BatchOperationFilter{StartDate: &f}, Count: true})
			require.NoError(t, err)
			// after an index prefix: (BATCH_OPERATION_KEY, STATE, PROCESSED_DATE)
			ip, err := s.Items(ctx, ItemQuery{Filter: BatchOperationItemFilter{ProcessedDate: &f,
				BatchOperationKey: &StringFilter{Eq: sp("100")}, State: &ItemStateFilter{Eq: &ItemStates[0]}}, Count: true})
			require.NoError(t, err)
			var bk, ok, ik []string
			for _, b := range bp.Nodes() {
				bk = append(bk, b.BatchID)
			}
			for _, o := range op.Nodes() {
				ok = append(ok, o.BatchOperationKey)
			}
			for _, it := range ip.Nodes() {
				ik = append(ik, it.ItemKey)
			}
			assert.Equal(t, c.want, bk, "batches")
			assert.Equal(t, c.want, ok, "operations")
			assert.Equal(t, c.want, ik, "items")
			assert.Equal(t, len(c.want), bp.TotalCount, "batches totalCount")
			assert.Equal(t, len(c.want), op.TotalCount, "operations totalCount")
			assert.Equal(t, len(c.want), ip.TotalCount, "items totalCount")
		})
	}
	// An eq date is still an index range, exact (nothing left to check per record).
	ts, err := operationTerms(&BatchOperationFilter{StartDate: &DateTimeFilter{Eq: tp(shown)}})
	require.NoError(t, err)
	require.NoError(t, s.View(ctx, func(r *Reader) error {
		p := choosePlan(r, operationKind, ts, condsOf(map[string]*cond{}, ts), []Order{{Field: "START_DATE"}}, 20)
		assert.Equal(t, "[START_DATE]", p.ix.name)
		assert.True(t, p.ordered)
		assert.Empty(t, p.residual)
		assert.Equal(t, appendTime(nil, shown), p.lo)
		assert.Equal(t, appendTime(nil, shown.Add(time.Millisecond)), p.hi)
		return nil
	}))
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := ParseTime(s)
	require.NoError(t, err, s)
	return tm
}
