package storage

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The benchmark data set: one operation with benchItems() items (default
// 1,100,000, so a page 1M records deep exists; BATCHQL_BENCH_ITEMS
// overrides), a tenth of them FAILED, plus 99 small operations. It is built
// once per `go test -bench` run in a temp dir.
var (
	benchOnce  sync.Once
	benchStore *Store
	benchErr   error
	benchDir   string
)

const benchOp = "2251799813685249"

func benchItems() int {
	if n, err := strconv.Atoi(os.Getenv("BATCHQL_BENCH_ITEMS")); err == nil && n > 0 {
		return n
	}
	return 1_100_000
}

func benchData(b *testing.B) *Store {
	b.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "batchql-bench")
		if benchErr != nil {
			return
		}
		benchStore, benchErr = Open(filepath.Join(benchDir, "bench.db"), Options{NoSync: true})
		if benchErr != nil {
			return
		}
		base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		n := benchItems()
		ctx := context.Background()
		for start := 0; start < n && benchErr == nil; start += 50_000 {
			benchErr = benchStore.Update(ctx, func(w *Writer) error {
				for i := start; i < min(start+50_000, n); i++ {
					st := ItemState("COMPLETED")
					if i%10 == 3 {
						st = "FAILED"
					}
					pd := base.Add(time.Duration(i) * time.Millisecond)
					pi := strconv.Itoa(4503599627370496 + i)
					if _, err := w.PutItem(&BatchOperationItem{BatchOperationKey: benchOp, ItemKey: pi,
						OperationType: "CANCEL_PROCESS_INSTANCE", ProcessInstanceKey: &pi, State: st, ProcessedDate: &pd}); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if benchErr == nil {
			benchErr = benchStore.Update(ctx, func(w *Writer) error {
				for i := range 100 {
					_, err := w.PutBatchOperation(&BatchOperation{BatchOperationKey: strconv.Itoa(2251799813685249 + i),
						BatchOperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE"})
					if err != nil {
						return err
					}
				}
				return nil
			})
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchStore != nil {
		benchStore.Close()
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// cursorAt returns the cursor of the record depth positions into q's order,
// made by paging with the largest pages.
func cursorAt(b *testing.B, s *Store, q ItemQuery, depth int) string {
	b.Helper()
	after := ""
	for done := 0; done < depth; {
		step := min(1000, depth-done)
		q.Page = PageRequest{First: &step, After: after}
		p, err := s.Items(context.Background(), q)
		if err != nil || len(p.Edges) == 0 {
			b.Fatalf("cursor at %d: %v", depth, err)
		}
		after = *p.EndCursor()
		done += len(p.Edges)
	}
	return after
}

func benchPage(b *testing.B, q ItemQuery) {
	s := benchData(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := s.Items(ctx, q)
		if err != nil || len(p.Edges) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkItemsPage compares the first page of an operation's items with
// a page 1M records deep (default order) and Q2's failures by date with a
// page 90% deep: keyset cursors make them cost the same.
func BenchmarkItemsPage(b *testing.B) {
	op := benchOp
	failed := ItemState("FAILED")
	first := 100
	all := ItemQuery{Filter: BatchOperationItemFilter{BatchOperationKey: &StringFilter{Eq: &op}}}
	q2 := ItemQuery{Filter: BatchOperationItemFilter{BatchOperationKey: &StringFilter{Eq: &op}, State: &ItemStateFilter{Eq: &failed}},
		Order: []Order{{Field: "PROCESSED_DATE", Desc: true}}}
	b.Run("first", func(b *testing.B) {
		q := all
		q.Page = PageRequest{First: &first}
		benchPage(b, q)
	})
	b.Run("deep-1M", func(b *testing.B) {
		q := all
		q.Page = PageRequest{First: &first, After: cursorAt(b, benchData(b), all, min(1_000_000, benchItems()-200))}
		benchPage(b, q)
	})
	b.Run("q2-first", func(b *testing.B) {
		q := q2
		q.Page = PageRequest{First: &first}
		benchPage(b, q)
	})
	b.Run("q2-deep-90pct", func(b *testing.B) {
		q := q2
		q.Page = PageRequest{First: &first, After: cursorAt(b, benchData(b), q2, benchItems()/10*9/10)}
		benchPage(b, q)
	})
}

// BenchmarkCount is totalCount of one operation's FAILED items (counters)
// and of a filter only an index range scan answers.
func BenchmarkCount(b *testing.B) {
	op := benchOp
	failed := ItemState("FAILED")
	from := time.Date(2026, 9, 1, 0, 10, 0, 0, time.UTC)
	cases := map[string]BatchOperationItemFilter{
		"op-failed-counter": {BatchOperationKey: &StringFilter{Eq: &op}, State: &ItemStateFilter{Eq: &failed}},
		"op-failed-since-range": {BatchOperationKey: &StringFilter{Eq: &op}, State: &ItemStateFilter{Eq: &failed},
			ProcessedDate: &DateTimeFilter{Gte: &from}},
	}
	for name, f := range cases {
		b.Run(name, func(b *testing.B) {
			s := benchData(b)
			ts, err := itemTerms(&f)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			var n int
			for b.Loop() {
				err := s.View(ctx, func(r *Reader) error {
					n, err = countMatches(ctx, r, itemKind, ts, condsOf(map[string]*cond{}, ts))
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "counted")
		})
	}
}

// BenchmarkPutItem is the upsert path alone: new items in key order, one
// transaction per 10,000.
func BenchmarkPutItem(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	n := b.N
	start := time.Now()
	for i := 0; i < n; i += 10_000 {
		err := s.Update(ctx, func(w *Writer) error {
			for j := i; j < min(i+10_000, n); j++ {
				pd := base.Add(time.Duration(j) * time.Millisecond)
				pi := strconv.Itoa(4503599627370496 + j)
				if _, err := w.PutItem(&BatchOperationItem{BatchOperationKey: strconv.Itoa(j / 1000), ItemKey: pi,
					OperationType: "CANCEL_PROCESS_INSTANCE", ProcessInstanceKey: &pi, State: "COMPLETED", ProcessedDate: &pd}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
}
