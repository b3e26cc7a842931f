package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
)

// TestLoadWhileSyncing's fake Camunda 8 engine runs in a child process,
// this test binary run as TestSyncLoadFake: a real engine runs elsewhere,
// and in the test's own process its items were most of the live heap, so
// the server's collector marked them in every cycle and the with/without
// p99 ratio measured that. The child serves the fake's API (/v2/...) and
// a control API for the test:
//
//	POST /__syncload/advance?rate=N  start completing N items a second (in itemKey order, steps of 100ms)
//	POST /__syncload/stop            stop the advancer: {"moved": items completed in all, "error": "..."}
//	POST /__syncload/probe           complete the next item now: {"index": i}; index -1 when all are
//	GET  /__syncload/stats           the fake's own cost counters (syncLoadFakeStats)
//	POST /__syncload/collect         collect garbage now (before each phase; see below)
//
// The child collects garbage only when told to, before each phase, and
// when its heap grows past a soft limit (its live heap after setup plus
// 1 GiB, which the full passes between the phases reach; a phase does
// not). With Go's collector on, a cycle marks its million items, in some
// phases and not others, and at nice 10 that still took our CPU: in one
// run the three with-sync phases where the fake used 1.0–1.3 CPU-s (0.5–0.6
// in the other five) were its three worst rounds (Q1–Q6 1.05–2.49×,
// against 0.89–1.72× in the other five). -syncload.fakegc lets it collect
// as Go does.
//
// It prints "fake URL PROGRESS" on stdout when it serves (PROGRESS: the
// time of one enginefake Progress call over the items), and exits when its
// stdin closes (the test ended, or died) or when killed.
const syncLoadType = "MIGRATE_PROCESS_INSTANCE"

// syncLoadKeys are the item keys of the operation, in itemKey order (the
// child and the test build the same).
func syncLoadKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strconv.Itoa(2251799900000000 + i)
	}
	return keys
}

// syncLoadFakeStats are the child's counters since it started.
type syncLoadFakeStats struct {
	SearchTime time.Duration `json:"searchTime"` // server time in item searches
	Searches   int64         `json:"searches"`   // item searches
	Bytes      int64         `json:"bytes"`      // item search answers' bytes
	Moved      int           `json:"moved"`      // items completed
	CPU        time.Duration `json:"cpu"`        // the child process's CPU time
	GCs        uint64        `json:"gcs"`        // and its collections
}

// since is what the counters grew by from a to s.
func (s syncLoadFakeStats) since(a syncLoadFakeStats) syncLoadFakeStats {
	return syncLoadFakeStats{SearchTime: s.SearchTime - a.SearchTime, Searches: s.Searches - a.Searches, Bytes: s.Bytes - a.Bytes,
		Moved: s.Moved - a.Moved, CPU: s.CPU - a.CPU, GCs: s.GCs - a.GCs}
}

// syncLoadFake is the test's side of the child.
type syncLoadFake struct {
	url    string
	client *http.Client
}

// startSyncLoadFake starts the child with an operation of n ACTIVE items
// and waits until it serves; t.Cleanup kills it and waits for it.
func startSyncLoadFake(t *testing.T, n int) (*syncLoadFake, time.Duration) {
	t.Helper()
	// The engine stands in for one that runs on other machines; here it
	// shares our two cores, so it runs at a lower priority than the server
	// (nice 10: Linux gives it about a tenth of a busy core's time against
	// a thread of ours): what it does (its collector marking a million
	// items, the advancer, answering the sync's searches) took 0.5–1.5
	// CPU-s a 10 s phase with sync at nice 0 (0.2–0.3 without), about as
	// much as the sync itself, and showed in the queries' p99 as if it
	// were the sync's. -syncload.fakenice 0 runs it as our equal.
	cmd := exec.Command("nice", "-n", strconv.Itoa(*syncLoadFakeNice), os.Args[0], "-test.run=^TestSyncLoadFake$")
	cmd.Env = append(os.Environ(), "BATCHQL_SYNCLOAD_FAKE=1", "BATCHQL_SYNCLOAD_ITEMS="+strconv.Itoa(n))
	if *syncLoadFakeGC {
		cmd.Env = append(cmd.Env, "BATCHQL_SYNCLOAD_FAKEGC=1")
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan []string, 1)
	go func() {
		defer close(ready)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "fake" {
				ready <- f
				break
			}
		}
		_, _ = io.Copy(io.Discard, out) // anything else it prints
	}()
	select {
	case f, ok := <-ready:
		require.True(t, ok, "the fake engine process ended before it served")
		progress, err := time.ParseDuration(f[2])
		require.NoError(t, err)
		return &syncLoadFake{url: f[1], client: &http.Client{Timeout: 30 * time.Second}}, progress
	case <-time.After(10 * time.Minute):
		t.Fatal("the fake engine process did not serve within 10 minutes")
		return nil, 0
	}
}

// call sends method path and decodes the answer into v (unless nil).
func (f *syncLoadFake) call(method, path string, v any) error {
	req, err := http.NewRequest(method, f.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("fake %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("fake %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("fake %s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("fake %s: %w", path, err)
	}
	return nil
}

func (f *syncLoadFake) advance(rate int) error {
	return f.call(http.MethodPost, "/__syncload/advance?rate="+strconv.Itoa(rate), nil)
}

// stop stops the advancer; moved is the items completed in all.
func (f *syncLoadFake) stop() (moved int, err error) {
	var r struct {
		Moved int
		Error string
	}
	if err := f.call(http.MethodPost, "/__syncload/stop", &r); err != nil {
		return 0, err
	}
	if r.Error != "" {
		return r.Moved, errors.New("advancer: " + r.Error)
	}
	return r.Moved, nil
}

// probe completes the next item now and returns its index, -1 when every
// item is completed.
func (f *syncLoadFake) probe() (int, error) {
	var r struct{ Index int }
	err := f.call(http.MethodPost, "/__syncload/probe", &r)
	return r.Index, err
}

// collect has the child collect its garbage now.
func (f *syncLoadFake) collect() error { return f.call(http.MethodPost, "/__syncload/collect", nil) }

func (f *syncLoadFake) stats() (syncLoadFakeStats, error) {
	var s syncLoadFakeStats
	return s, f.call(http.MethodGet, "/__syncload/stats", &s)
}

// advancer completes the operation's items in itemKey order, at a rate
// in steps of 100ms and one at a time for the probes.
type advancer struct {
	c8   *enginefake.Camunda8
	keys []string

	mu     sync.Mutex // the completions; and the run below
	moved  int        // items completed in the fake
	cancel context.CancelFunc
	done   chan error
}

// complete marks keys[moved:to] COMPLETED now; a.mu is held.
func (a *advancer) complete(to int) error {
	now := time.Now()
	batch := make([]enginefake.Item, 0, to-a.moved)
	for _, k := range a.keys[a.moved:to] {
		batch = append(batch, enginefake.Item{OperationType: syncLoadType, OperationKey: syncLoadOp, ItemKey: k,
			ProcessInstanceKey: k, State: "COMPLETED", ProcessedDate: &now})
	}
	a.c8.PutItems(batch...)
	err := a.c8.UpdateOperation(syncLoadOp, func(op *enginefake.Operation) {
		op.CompletedCount = int32(to)
		if to == len(a.keys) {
			op.State, op.EndDate = "COMPLETED", &now
		}
	})
	if err == nil {
		a.moved = to
	}
	return err
}

func (a *advancer) run(ctx context.Context, rate int) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	a.mu.Lock()
	start, base := time.Now(), a.moved
	a.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		a.mu.Lock()
		to := min(len(a.keys), base+int(time.Since(start).Seconds()*float64(rate)))
		var err error
		if to > a.moved {
			err = a.complete(to)
		}
		all := a.moved == len(a.keys)
		a.mu.Unlock()
		if err != nil || all {
			return err
		}
	}
}

// TestSyncLoadFake is TestLoadWhileSyncing's fake engine process (see
// startSyncLoadFake); run directly it does nothing.
func TestSyncLoadFake(t *testing.T) {
	if os.Getenv("BATCHQL_SYNCLOAD_FAKE") != "1" {
		return
	}
	n, err := strconv.Atoi(os.Getenv("BATCHQL_SYNCLOAD_ITEMS"))
	require.NoError(t, err, "BATCHQL_SYNCLOAD_ITEMS")
	go func() { // the test ended or died: its end of the pipe closed
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()

	// one operation of n ACTIVE items, created in bulk
	c8 := enginefake.NewCamunda8()
	c8.PutOperation(enginefake.Operation{Key: syncLoadOp, State: "CREATED", Type: syncLoadType, TotalCount: int32(n)})
	keys := syncLoadKeys(n)
	batch := make([]enginefake.Item, 0, 100_000)
	for i, k := range keys {
		batch = append(batch, enginefake.Item{OperationType: syncLoadType, OperationKey: syncLoadOp, ItemKey: k, ProcessInstanceKey: k, State: "ACTIVE"})
		if len(batch) == cap(batch) || i == n-1 {
			c8.PutItems(batch...)
			batch = batch[:0]
		}
	}
	began := time.Now()
	require.NoError(t, c8.Progress(syncLoadOp, 0, 0)) // CREATED → ACTIVE with a startDate
	progress := time.Since(began)
	if os.Getenv("BATCHQL_SYNCLOAD_FAKEGC") != "1" {
		runtime.GC()
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(live)
		debug.SetMemoryLimit(int64(live[0].Value.Uint64()) + 1<<30)
		debug.SetGCPercent(-1)
	}

	var searchTime, searches, bytes atomic.Int64 // the fake's own cost: server time in item searches
	adv := &advancer{c8: c8, keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /__syncload/advance", func(w http.ResponseWriter, r *http.Request) {
		rate, err := strconv.Atoi(r.URL.Query().Get("rate"))
		if err != nil || rate <= 0 {
			http.Error(w, fmt.Sprintf("rate %q: a positive number of items a second", r.URL.Query().Get("rate")), http.StatusBadRequest)
			return
		}
		adv.mu.Lock()
		defer adv.mu.Unlock()
		if adv.done != nil {
			http.Error(w, "the advancer runs", http.StatusConflict)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		adv.cancel, adv.done = cancel, make(chan error, 1)
		go func(done chan<- error) { done <- adv.run(ctx, rate) }(adv.done)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /__syncload/stop", func(w http.ResponseWriter, r *http.Request) {
		adv.mu.Lock()
		cancel, done := adv.cancel, adv.done
		adv.cancel, adv.done = nil, nil
		adv.mu.Unlock()
		var msg string
		if done != nil {
			cancel()
			if err := <-done; err != nil {
				msg = err.Error()
			}
		}
		adv.mu.Lock()
		defer adv.mu.Unlock()
		writeJSONBody(w, map[string]any{"moved": adv.moved, "error": msg})
	})
	mux.HandleFunc("POST /__syncload/probe", func(w http.ResponseWriter, r *http.Request) {
		adv.mu.Lock()
		defer adv.mu.Unlock()
		if adv.moved == n {
			writeJSONBody(w, map[string]any{"index": -1})
			return
		}
		if err := adv.complete(adv.moved + 1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSONBody(w, map[string]any{"index": adv.moved - 1})
	})
	mux.HandleFunc("POST /__syncload/collect", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /__syncload/stats", func(w http.ResponseWriter, r *http.Request) {
		adv.mu.Lock()
		moved := adv.moved
		adv.mu.Unlock()
		writeJSONBody(w, syncLoadFakeStats{SearchTime: time.Duration(searchTime.Load()), Searches: searches.Load(),
			Bytes: bytes.Load(), Moved: moved, CPU: cpuTime(), GCs: sampleRuntime().gcs()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/batch-operation-items/search") {
			c8.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		cw := &countingWriter{ResponseWriter: w}
		c8.ServeHTTP(cw, r)
		searchTime.Add(int64(time.Since(start)))
		searches.Add(1)
		bytes.Add(cw.n)
	})
	srv := httptest.NewServer(mux)
	fmt.Printf("fake %s %s\n", srv.URL, progress)
	select {} // until stdin closes or it is killed
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
