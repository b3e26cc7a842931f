package replication

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
	"github.com/stretchr/testify/require"
)

// benchPatches is ops operations of items items each, as patches.
func benchPatches(b *testing.B, ops, items int) []*importer.Patch {
	var out []*importer.Patch
	for o := range ops {
		key := fmt.Sprintf("%d", 2251799813690000+o)
		recs := []string{opJSON(key, "ACTIVE", 0)}
		for i := range items {
			recs = append(recs, itemJSON(key, o*1_000_000+i, "COMPLETED"))
		}
		for _, r := range recs {
			p := new(importer.Patch)
			require.NoError(b, p.UnmarshalJSON([]byte(r)))
			out = append(out, p)
		}
	}
	return out
}

// BenchmarkCatchUp: an empty replica applies a stream of 100,000 item
// patches (about 100 messages of ~900 KiB) into a bbolt file with fsync,
// from an embedded NATS server; records/s is the catch-up rate.
func BenchmarkCatchUp(b *testing.B) {
	ns := runNATS(b)
	ctx := context.Background()
	src, err := storage.Open(filepath.Join(b.TempDir(), "src.db"), storage.Options{NoSync: true})
	require.NoError(b, err)
	defer src.Close()
	cfg := Config{URLs: ns.ClientURL(), ID: "src"}
	n, err := Start(ctx, src, cfg)
	require.NoError(b, err)
	defer n.Close()
	ps := benchPatches(b, 10, 10_000)
	last, err := n.Publish(ctx, ps)
	require.NoError(b, err)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		s, err := storage.Open(filepath.Join(b.TempDir(), fmt.Sprintf("r%d.db", i)), storage.Options{})
		require.NoError(b, err)
		start := time.Now()
		r, err := Start(ctx, s, Config{URLs: ns.ClientURL(), ID: "r"})
		require.NoError(b, err)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		require.NoError(b, r.WaitApplied(wctx, last))
		cancel()
		total += time.Since(start)
		r.Close()
		s.Close()
	}
	b.ReportMetric(float64(len(ps)*b.N)/total.Seconds(), "records/s")
	b.ReportMetric(float64(last), "messages")
}

// BenchmarkLagAt5000ItemsPerSecond: a leader publishes 500 items every
// 100 ms (5,000 items/s) for 10 s while a second replica applies them;
// the lag is the time from the start of each publish to its apply on the
// replica (fsync on).
func BenchmarkLagAt5000ItemsPerSecond(b *testing.B) {
	ns := runNATS(b)
	ctx := context.Background()
	open := func(name string) *storage.Store {
		s, err := storage.Open(filepath.Join(b.TempDir(), name), storage.Options{})
		require.NoError(b, err)
		return s
	}
	ws, rs := open("w.db"), open("r.db")
	defer ws.Close()
	defer rs.Close()
	w, err := Start(ctx, ws, Config{URLs: ns.ClientURL(), ID: "w"})
	require.NoError(b, err)
	defer w.Close()
	r, err := Start(ctx, rs, Config{URLs: ns.ClientURL(), ID: "r"})
	require.NoError(b, err)
	defer r.Close()
	ps := benchPatches(b, 100, 5000) // 500k items: 100 s at most
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var lags []time.Duration
		tick := time.NewTicker(100 * time.Millisecond)
		type sent struct {
			at  time.Time
			seq uint64
		}
		done := make(chan sent, 200)
		go func() {
			defer close(done)
			for k := 0; k < 100; k++ { // 10 s
				<-tick.C
				batch := ps[(k*500)%len(ps) : (k*500)%len(ps)+500]
				at := time.Now()
				seq, err := w.Publish(ctx, batch)
				if err != nil {
					b.Error(err)
					return
				}
				done <- sent{at, seq}
			}
		}()
		for s := range done {
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			require.NoError(b, r.WaitApplied(wctx, s.seq))
			cancel()
			lags = append(lags, time.Since(s.at))
		}
		tick.Stop()
		slices.Sort(lags)
		b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-lag-ms")
		b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-lag-ms")
		b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-lag-ms")
	}
}
