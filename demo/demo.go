package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/batchql/batchql/storage"
)

// Config sizes the demo data set.
type Config struct {
	Batches           int   // Camunda 7 batches
	Operations        int   // Camunda 8 batch operations
	ItemsPerOperation int   // mean items per operation; sizes are skewed
	Seed              int64 // same seed, same records
	// TxSize is the number of records per write transaction; 0 means 20000.
	TxSize int
	// Progress, when set, is called after every transaction with the
	// records written so far and the total.
	Progress func(done, total int64)
}

// Stats reports what Write wrote.
type Stats struct {
	Batches, Operations, Items int64
	Elapsed                    time.Duration
}

// DefaultConfig is the small set `serve --demo` writes in a few seconds:
// about 8000 items, one operation of at least 2000 of them.
func DefaultConfig() Config {
	return Config{Batches: 300, Operations: 200, ItemsPerOperation: 40, Seed: 1}
}

const defaultTxSize = 20000

// demoBaseTime is the fixed "now" of the demo data: every date lies in the
// 90 days before it.
var demoBaseTime = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

const (
	demoMsMinute = int64(60 * 1000)
	demoMsHour   = 60 * demoMsMinute
	demoMsDay    = 24 * demoMsHour
	// demoSpanDays is the width of the window of dates.
	demoSpanDays = 90
)

// Write writes the demo data set into s (storage.Writer.PutBatch and its
// siblings: whole records, indexes and counters kept), TxSize records per
// transaction. Records already stored with the same keys are replaced.
func Write(ctx context.Context, s *storage.Store, cfg Config) (*Stats, error) {
	began := time.Now()
	g, err := newDemoGen(cfg)
	if err != nil {
		return nil, err
	}
	txSize := cfg.TxSize
	if txSize <= 0 {
		txSize = defaultTxSize
	}
	total := g.totalRecords()
	var done int64
	for !g.finished {
		err := s.Update(ctx, func(w *storage.Writer) error {
			for n := 0; n < txSize; n++ {
				rec := g.next()
				if rec == nil {
					return nil
				}
				var err error
				switch r := rec.(type) {
				case *storage.BatchOperationItem:
					_, err = w.PutItem(r)
				case *storage.BatchOperation:
					_, err = w.PutBatchOperation(r)
				case *storage.Batch:
					_, err = w.PutBatch(r)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return g.stats(began), fmt.Errorf("demo: %w", err)
		}
		done = g.stats(began).records()
		if cfg.Progress != nil {
			cfg.Progress(done, total)
		}
	}
	return g.stats(began), nil
}

// Generate calls emit for every record of the demo data set, in the
// order Write writes them, without touching a store. rec is a *storage.Batch, a
// *storage.BatchOperation or a *storage.BatchOperationItem; it is only valid during the call
// (items are reused), so emit must copy what it keeps. An error from emit
// stops the generation and is returned.
func Generate(ctx context.Context, cfg Config, emit func(rec any) error) error {
	g, err := newDemoGen(cfg)
	if err != nil {
		return err
	}
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec := g.next()
		if rec == nil {
			return nil
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
}

// ---------------------------------------------------------------------------
// Deterministic randomness.

// Streams of the PCG source: one for the plan, one for the batches, and one
// per operation, so that the items of one operation do not depend on how
// many random numbers the others drew.
const (
	demoStreamPlan    = 0x706c616e
	demoStreamBatches = 0x62617463
	demoStreamOps     = 0x6f707300
)

func demoMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func demoRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(demoMix(uint64(seed)), demoMix(stream)))
}

// demoWeights picks an index with probability proportional to its weight.
type demoWeights []int

func (w demoWeights) pick(r *rand.Rand) int {
	total := 0
	for _, x := range w {
		total += x
	}
	n := r.IntN(total)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

func demoBetween(r *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.Int64N(hi-lo+1)
}

func demoClamp64(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

func demoTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func demoTimePtr(ms int64) *time.Time { t := demoTime(ms); return &t }

func demoStr(s string) *string { return &s }

func demoInt(v int) *int { return &v }
