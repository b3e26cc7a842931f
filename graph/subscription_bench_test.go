package graph

// Subscription benchmarks (figures in the README). Real WebSocket clients
// (coder/websocket, graphql-transport-ws) in a process of their own (this
// test binary again, TestBenchClients), a real bbolt file (NoSync).
//
//	go test ./graph/ -run '^$' -bench 'SubscriptionFanOut' -benchtime 1x -count 2
//	go test ./graph/ -run '^$' -bench 'ImportIdleSubscribers' -benchtime 5x
//
// BATCHQL_BENCH_SUBS (1000), BATCHQL_BENCH_ITEMS (100000) and
// BATCHQL_BENCH_COMMIT (1000 items a commit) change the sizes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type benchServer struct {
	store *storage.Store
	hub   *changes.Hub
	url   string
	close func()
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	store, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{NoSync: true})
	require.NoError(b, err)
	hub := changes.New(store, changes.Options{MaxSubscriptions: 100_000})
	srv := httptest.NewServer(NewHandler(store, Config{Subscriptions: hub}, slog.New(slog.DiscardHandler)))
	return &benchServer{store: store, hub: hub, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/query", close: func() {
		hub.Close()
		srv.Close()
		store.Close()
	}}
}

// benchClient is a minimal graphql-transport-ws client: onData gets each
// next payload's raw JSON.
func benchClient(ctx context.Context, url, query string, onData func([]byte)) (*coderws.Conn, error) {
	conn, _, err := coderws.Dial(ctx, url, &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	send := func(v any) error {
		b, _ := json.Marshal(v)
		return conn.Write(ctx, coderws.MessageText, b)
	}
	if err := send(map[string]any{"type": "connection_init"}); err != nil {
		return nil, err
	}
	if _, _, err := conn.Read(ctx); err != nil { // connection_ack
		return nil, err
	}
	if err := send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": query}}); err != nil {
		return nil, err
	}
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			switch {
			case bytes.Contains(data, []byte(`"type":"next"`)):
				onData(data)
			case bytes.Contains(data, []byte(`"type":"ping"`)):
				_ = conn.Write(context.Background(), coderws.MessageText, []byte(`{"type":"pong"}`))
			}
		}
	}()
	return conn, nil
}

func dialAll(b testing.TB, n int, fn func(i int) (*coderws.Conn, error)) []*coderws.Conn {
	b.Helper()
	conns := make([]*coderws.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := fn(i)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	require.NoError(b, <-errs)
	return conns
}

// The clients run in a process of their own (this test binary again, in
// TestBenchClients), so the server's heap and CPU time are measured alone.
// They keep their events in memory and write them out once every client
// has the last state, so that reporting adds no work to the measured run
// (they used to write a line per event under one lock while the server
// ran; the clients' CPU time stayed about the same, ~25 µs an event,
// mostly reading: they share the server's two cores).

// startClients starts n clients of url; client i subscribes with
// fmt.Sprintf(queries[i%len(queries)], i). With last > 0, once every
// client has had an event with operationsCompletedCount last, the
// returned channel has a line "finished", then each event as a line "ev i
// unixnano completedCount", then "end unixnano" (when the last client got
// the last state).
func startClients(b *testing.B, url string, n, last int, queries ...string) (<-chan string, func()) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchClients$")
	cmd.Env = append(os.Environ(), "BATCHQL_BENCH_HELPER=1", "BATCHQL_BENCH_URL="+url,
		"BATCHQL_BENCH_N="+strconv.Itoa(n), "BATCHQL_BENCH_LAST="+strconv.Itoa(last),
		"BATCHQL_BENCH_QUERIES="+strings.Join(queries, "\n"))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	var once sync.Once
	stop := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	b.Cleanup(stop)
	lines := make(chan string, 1<<16)
	ready := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "ready":
				close(ready)
			case line == "finished", strings.HasPrefix(line, "ev "), strings.HasPrefix(line, "end "):
				lines <- line
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(2 * time.Minute):
		b.Fatal("the clients did not subscribe within 2 minutes")
	}
	return lines, stop
}

// TestBenchClients is the client process of the benchmarks; run directly
// it does nothing.
func TestBenchClients(t *testing.T) {
	if os.Getenv("BATCHQL_BENCH_HELPER") != "1" {
		return
	}
	url, n, last := os.Getenv("BATCHQL_BENCH_URL"), envInt("BATCHQL_BENCH_N", 1), envInt("BATCHQL_BENCH_LAST", 0)
	queries := strings.Split(os.Getenv("BATCHQL_BENCH_QUERIES"), "\n")
	type event struct{ at, count int64 }
	events := make([][]event, n) // by client, each appended by its reader only
	var done atomic.Int64        // clients that have the last state
	finished := make(chan struct{})
	dialAll(t, n, func(i int) (*coderws.Conn, error) {
		q := queries[i%len(queries)]
		if strings.Contains(q, "%d") {
			q = fmt.Sprintf(q, i)
		}
		return benchClient(context.Background(), url, q, func(data []byte) {
			if last <= 0 || len(events[i]) > 0 && events[i][len(events[i])-1].count == int64(last) {
				return // done: a repeat of the last state is not counted
			}
			now := time.Now().UnixNano()
			j := bytes.Index(data, []byte(`"operationsCompletedCount":`)) + 27
			count, _ := strconv.ParseInt(string(data[j:j+bytes.IndexAny(data[j:], "},")]), 10, 64)
			events[i] = append(events[i], event{now, count})
			if count == int64(last) && done.Add(1) == int64(n) {
				close(finished)
			}
		})
	})
	fmt.Println("ready")
	<-finished
	fmt.Println("finished")
	w := bufio.NewWriter(os.Stdout)
	end := int64(0)
	for i, evs := range events {
		for _, e := range evs {
			fmt.Fprintf(w, "ev %d %d %d\n", i, e.at, e.count)
			if e.count == int64(last) {
				end = max(end, e.at)
			}
		}
	}
	fmt.Fprintf(w, "end %d\n", end)
	w.Flush()
	select {} // until killed
}

func waitSubscribed(b *testing.B, hub *changes.Hub, n int) {
	b.Helper()
	for i := 0; ; i++ {
		if hub.Active()["ws"] >= n {
			return
		}
		require.Less(b, i, 6000, "only %v of %d subscribed", hub.Active(), n)
		time.Sleep(10 * time.Millisecond)
	}
}

// heapPeak samples HeapInuse until stop is closed.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// BenchmarkSubscriptionFanOut: SUBS WebSocket subscribers follow one
// operation (batchOperationChanged filtered on its key) while its ITEMS
// items change, COMMIT items and the operation's counts a commit. Each
// event's latency is from the commit (Update returned) to the client
// reading the event; a subscriber that is behind skips states (coalescing)
// but must end on the last one.
func BenchmarkSubscriptionFanOut(b *testing.B) {
	defer servingGC()()
	subs, items, per := envInt("BATCHQL_BENCH_SUBS", 1000), envInt("BATCHQL_BENCH_ITEMS", 100_000), envInt("BATCHQL_BENCH_COMMIT", 1000)
	commits := items / per
	for range b.N {
		s := newBenchServer(b)
		ctx := context.Background()
		const op = "2251799813685001"
		setOp := func(w *storage.Writer, done int) error {
			_, err := w.UpsertBatchOperation(op, func(o *storage.BatchOperation) (*storage.BatchOperation, error) {
				if o == nil {
					o = &storage.BatchOperation{BatchOperationKey: op, BatchOperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE", Errors: []storage.BatchOperationError{}}
				}
				o.OperationsTotalCount, o.OperationsCompletedCount = items, done
				return o, nil
			})
			return err
		}
		setItems := func(w *storage.Writer, from, to int, state storage.ItemState) error {
			for i := from; i < to; i++ {
				key := strconv.Itoa(1_000_000 + i)
				if _, err := w.UpsertItem(op, key, func(*storage.BatchOperationItem) (*storage.BatchOperationItem, error) {
					return &storage.BatchOperationItem{BatchOperationKey: op, ItemKey: key, OperationType: "CANCEL_PROCESS_INSTANCE", State: state, ProcessInstanceKey: &key}, nil
				}); err != nil {
					return err
				}
			}
			return nil
		}
		for from := 0; from < items; from += 10_000 {
			require.NoError(b, s.store.Update(ctx, func(w *storage.Writer) error {
				return benchErr(setItems(w, from, min(from+10_000, items), "ACTIVE"), setOp(w, 0))
			}))
		}

		commitAt := make([]int64, commits+1) // by completed count / per
		query := fmt.Sprintf(`subscription { batchOperationChanged(filter: {batchOperationKey: {eq: "%s"}}) { batchOperationKey operationsCompletedCount } }`, op)
		lines, stopClients := startClients(b, s.url, subs, commits*per, query)
		type event struct {
			client, count int
			at            int64
		}
		var evs []event
		var endAt int64        // when the last client got the last state
		var cpu1 time.Duration // the server's CPU time then
		var allocs1 uint64     // and its heap allocations
		received := make(chan struct{})
		go func() { // every client has the last state
			defer close(received)
			for line := range lines {
				f := strings.Fields(line)
				switch f[0] {
				case "finished":
					cpu1, allocs1 = processCPU(), heapAllocs()
					continue
				case "end":
					endAt, _ = strconv.ParseInt(f[1], 10, 64)
					return
				}
				var e event
				e.client, _ = strconv.Atoi(f[1])
				e.at, _ = strconv.ParseInt(f[2], 10, 64)
				e.count, _ = strconv.Atoi(f[3])
				evs = append(evs, e)
			}
		}()
		waitSubscribed(b, s.hub, subs)
		if f := os.Getenv("BATCHQL_BENCH_HEAPPROFILE"); f != "" { // the subscribed server's heap
			runtime.GC()
			w, err := os.Create(f)
			require.NoError(b, err)
			require.NoError(b, pprof.WriteHeapProfile(w))
			w.Close()
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base, stacks := ms.HeapInuse, ms.StackInuse
		stop := make(chan struct{})
		peak := heapPeak(stop)

		b.ResetTimer()
		// The writer runs on a thread of its own, so that its CPU time is
		// told apart from the delivery's (RUSAGE_THREAD).
		runtime.LockOSThread()
		start, cpu0, allocs0, wcpu0 := time.Now(), processCPU(), heapAllocs(), threadCPU()
		for c := 1; c <= commits; c++ {
			require.NoError(b, s.store.Update(ctx, func(w *storage.Writer) error {
				return benchErr(setItems(w, (c-1)*per, c*per, "COMPLETED"), setOp(w, c*per))
			}))
			commitAt[c] = time.Now().UnixNano()
		}
		writeTime, wcpu := time.Since(start), threadCPU()-wcpu0
		runtime.UnlockOSThread()
		select {
		case <-received:
		case <-time.After(2 * time.Minute):
			b.Fatalf("not every subscriber got the last state within 2 minutes")
		}
		cpu := cpu1 - cpu0
		b.StopTimer()
		require.NotZero(b, endAt, "the clients' report ended early")
		elapsed := time.Duration(endAt - start.UnixNano())
		close(stop)
		peakHeap := <-peak

		all := make([]time.Duration, len(evs))
		for i, e := range evs {
			all[i] = max(time.Duration(e.at-commitAt[e.count/per]), 0)
		}
		slices.Sort(all)
		q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(float64(len(evs))/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(len(evs))/float64(subs), "events/sub")
		b.ReportMetric(float64(items)/writeTime.Seconds(), "item-changes/s")
		b.ReportMetric(float64(peakHeap)/(1<<20), "heap-peak-MiB")
		b.ReportMetric(float64(base)/(1<<20), "heap-base-MiB")
		b.ReportMetric(float64(stacks)/(1<<20), "stacks-base-MiB")
		// The server process's CPU time (the writer's too) per event: less
		// sensitive to other load on the machine than the latencies.
		b.ReportMetric(float64(cpu.Microseconds())/float64(len(evs)), "server-cpu-µs/event")
		// Without the writer's thread: the delivery's own cost (the GC's
		// work for the writer's garbage is still in it).
		b.ReportMetric(float64((cpu-wcpu).Microseconds())/float64(len(evs)), "delivery-cpu-µs/event")
		b.ReportMetric(wcpu.Seconds(), "writer-cpu-s")
		// Its heap allocations per event (the writer's included).
		b.ReportMetric(float64(allocs1-allocs0)/float64(len(evs)), "server-allocs/event")
		stopClients()
		s.close()
	}
}

// servingGC sets the GC as serve does by default (--gc-percent 800,
// --memory-limit-mib 256; BATCHQL_BENCH_MEMLIMIT_MIB sets another limit,
// -1 none) and returns the function that restores it.
func servingGC() func() {
	limit := int64(math.MaxInt64)
	if mib := envInt("BATCHQL_BENCH_MEMLIMIT_MIB", 256); os.Getenv("BATCHQL_BENCH_MEMLIMIT_MIB") != "-1" {
		limit = int64(mib) << 20
	}
	gc, lim := debug.SetGCPercent(800), debug.SetMemoryLimit(limit)
	return func() { debug.SetGCPercent(gc); debug.SetMemoryLimit(lim) }
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAllocs is the number of heap objects this process allocated so far
// (runtime/metrics: no stop of the world).
func heapAllocs() uint64 {
	m := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// threadCPU is the CPU time (user and system) of the calling thread (the
// goroutine's, while it is locked to it).
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD (Linux)
	var ru syscall.Rusage
	_ = syscall.Getrusage(rusageThread, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkImportIdleSubscribers: the import rate of ITEMS items (NDJSON
// through the importer) with no subscriber and with SUBS idle WebSocket
// subscribers (half following items of operations that do not change, half
// such operations: the change feed is on and every commit is fanned out).
// Each round imports once without and once with the subscribers, so
// machine load hits both alike; it reports the median rates, their ratio
// and the process CPU time per import (less sensitive to other load). What
// the subscribers cost is memory: their connections' heap and stacks are
// live, so the collector scans them and, near the soft memory limit, runs
// far more often (the reason for --memory-limit-mib 256).
func BenchmarkImportIdleSubscribers(b *testing.B) {
	defer servingGC()()
	subs, items := envInt("BATCHQL_BENCH_SUBS", 1000), envInt("BATCHQL_BENCH_ITEMS", 100_000)
	file := filepath.Join(b.TempDir(), "items.ndjson")
	var buf bytes.Buffer
	for i := range items {
		fmt.Fprintf(&buf, `{"batchOperationKey":"2251799813685001","itemKey":"%d","operationType":"CANCEL_PROCESS_INSTANCE","processInstanceKey":"%d","state":"COMPLETED","processedDate":"2026-08-01T10:00:00.000Z","errorMessage":null}`+"\n", 1_000_000+i, 1_000_000+i)
	}
	require.NoError(b, os.WriteFile(file, buf.Bytes(), 0o600))
	var rates, cpus [2][]float64
	for range b.N {
		for j, n := range []int{0, subs} {
			b.StopTimer()
			s := newBenchServer(b)
			stopClients := func() {}
			if n > 0 {
				_, stopClients = startClients(b, s.url, n, 0,
					`subscription { batchOperationItemChanged(filter: {batchOperationKey: {eq: "%d"}}) { itemKey } }`,
					`subscription { batchOperationChanged(filter: {batchOperationKey: {eq: "%d"}}) { state } }`)
			}
			waitSubscribed(b, s.hub, n)
			runtime.GC()
			b.StartTimer()
			start, c0 := time.Now(), processCPU()
			var err error
			pprof.Do(context.Background(), pprof.Labels("run", []string{"none", "idle"}[j]), func(ctx context.Context) {
				_, err = importer.File(ctx, s.store, file, importer.Options{})
			})
			require.NoError(b, err)
			rates[j] = append(rates[j], float64(items)/time.Since(start).Seconds())
			cpus[j] = append(cpus[j], (processCPU() - c0).Seconds())
			b.StopTimer()
			stopClients()
			s.close()
		}
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	r0, r1 := median(rates[0]), median(rates[1])
	b.ReportMetric(r0, "items/s-0subs")
	b.ReportMetric(r1, "items/s-idle-subs")
	b.ReportMetric(r1/r0, "ratio")
	b.ReportMetric(median(cpus[0]), "cpu-s-0subs")
	b.ReportMetric(median(cpus[1]), "cpu-s-idle-subs")
}
