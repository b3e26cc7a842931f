package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
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
	if progressPath != "" {
		os.RemoveAll(filepath.Dir(progressPath))
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

// progressTemplate is a database of progressItems ACTIVE items of one
// operation (no processedDate), built once per `go test -bench` run and
// copied for each round of BenchmarkUpsertItemsProgress.
var (
	progressOnce sync.Once
	progressPath string
	progressErr  error
)

const progressItems = 250_000

func progressStore(b *testing.B) *Store {
	b.Helper()
	progressOnce.Do(func() {
		var dir string
		if dir, progressErr = os.MkdirTemp("", "batchql-progress"); progressErr != nil {
			return
		}
		progressPath = filepath.Join(dir, "template.db")
		s, err := Open(progressPath, Options{NoSync: true, InitialMmapSize: 1 << 28})
		if err != nil {
			progressErr = err
			return
		}
		ctx := context.Background()
		for start := 0; start < progressItems && err == nil; start += 50_000 {
			err = s.Update(ctx, func(w *Writer) error {
				for i := start; i < start+50_000; i++ {
					pi := strconv.Itoa(4503599627370496 + i)
					if _, err := w.PutItem(&BatchOperationItem{BatchOperationKey: benchOp, ItemKey: pi,
						OperationType: "CANCEL_PROCESS_INSTANCE", ProcessInstanceKey: &pi, State: "ACTIVE"}); err != nil {
						return err
					}
				}
				return nil
			})
		}
		progressErr = errors.Join(err, s.Close())
	})
	if progressErr != nil {
		b.Fatal(progressErr)
	}
	path := filepath.Join(b.TempDir(), "progress.db")
	if err := copyFile(path, progressPath); err != nil {
		b.Fatal(err)
	}
	s, err := Open(path, Options{NoSync: true, InitialMmapSize: 1 << 28})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkUpsertItemsProgress is live sync's store path: items of one
// operation of progressItems go ACTIVE→COMPLETED with a processedDate,
// oldest first, by upserts in write transactions of 1,000 (StoreApplier's
// size). One op is one changed item, its transaction's commit included;
// cpu-ns/item is the process's user+system CPU time per item.
func BenchmarkUpsertItemsProgress(b *testing.B) {
	const txSize = 1000
	ctx := context.Background()
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	completed := ItemState("COMPLETED")
	var s *Store
	next := progressItems
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for done := 0; done < b.N; {
		if next == progressItems {
			b.StopTimer()
			c := processCPU()
			s, next = progressStore(b), 0
			cpu -= processCPU() - c
			b.StartTimer()
		}
		n := min(txSize, b.N-done, progressItems-next)
		err := s.Update(ctx, func(w *Writer) error {
			for i := next; i < next+n; i++ {
				pd := base.Add(time.Duration(i) * time.Millisecond)
				o, err := w.UpsertItem(benchOp, strconv.Itoa(4503599627370496+i), func(it *BatchOperationItem) (*BatchOperationItem, error) {
					it.State, it.ProcessedDate = completed, &pd
					return it, nil
				})
				if err != nil {
					return err
				}
				if o != Updated {
					return fmt.Errorf("item %d: %s, want updated", i, o)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done, next = done+n, next+n
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/item")
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// copyFile copies src to a new file dst (in the kernel where it can: no
// large buffer for the benchmark's GC to count).
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
