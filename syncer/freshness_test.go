package syncer_test

import (
	"testing"
	"time"

	"github.com/batchql/batchql/enginefake"
)

// BenchmarkFreshness measures the time from a change in an engine to a
// changed GraphQL answer with --sync-interval 1s (the contract's bound for
// running work is 2 × interval). Each iteration changes the fake (an item
// of a running operation completes; a running batch's statistics change)
// at a random phase of the poll cycle and polls GraphQL every millisecond
// until the answer shows it.
//
//	go test ./syncer/ -run '^$' -bench Freshness -benchtime 10x
func BenchmarkFreshness(b *testing.B) {
	b.Run("camunda8", func(b *testing.B) {
		cfg := testConfig()
		cfg.Interval = time.Second
		e := newEnv(b, envOpts{no7: true, cfg: cfg})
		e.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", b.N+1)
		e.run()
		eventually(b, "first sync", func() bool { return e.converged("2251799813685001") })
		var total, worst time.Duration
		b.ResetTimer()
		for i := range b.N {
			time.Sleep(time.Duration(i*137%1000) * time.Millisecond) // spread over the cycle
			if err := e.c8.Progress("2251799813685001", 1, 0); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			want := i + 1
			for {
				if g := e.graphOp("2251799813685001"); g != nil && g.Completed == want {
					break
				}
				time.Sleep(time.Millisecond)
			}
			d := time.Since(start)
			total += d
			worst = max(worst, d)
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/change")
		b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
	})
	b.Run("camunda7", func(b *testing.B) {
		cfg := testConfig()
		cfg.Interval = time.Second
		e := newEnv(b, envOpts{no8: true, cfg: cfg})
		bt := e.c7.AddBatch(enginefake.Batch{Type: "instance-migration", TotalJobs: b.N + 1, RemainingJobs: b.N + 1})
		e.run()
		eventually(b, "first sync", func() bool { return e.batch(bt.ID) != nil })
		var total, worst time.Duration
		b.ResetTimer()
		for i := range b.N {
			time.Sleep(time.Duration(i*137%1000) * time.Millisecond)
			remaining := b.N - i
			if err := e.c7.SetStatistics(bt.ID, b.N+1, remaining, 0); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for {
				st, _ := e.batch(bt.ID)["statistics"].(map[string]any)
				if st != nil && st["remainingJobs"] == float64(remaining) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			d := time.Since(start)
			total += d
			worst = max(worst, d)
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/change")
		b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
	})
}
