package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
)

var (
	syncLoad         = flag.Bool("syncload", false, "run TestLoadWhileSyncing (GraphQL load with and without a live sync of a big operation)")
	syncLoadItems    = flag.Int("syncload.items", 1_000_000, "TestLoadWhileSyncing: items of the running Camunda 8 operation")
	syncLoadRate     = flag.Int("syncload.rate", 5000, "TestLoadWhileSyncing: items the operation completes per second")
	syncLoadDuration = flag.Duration("syncload.duration", 10*time.Second, "TestLoadWhileSyncing: length of each measured phase")
	syncLoadClients  = flag.Int("syncload.clients", 4, "TestLoadWhileSyncing: concurrent GraphQL clients")
	syncLoadQPS      = flag.Int("syncload.qps", 0, "TestLoadWhileSyncing: send this many requests a second (open loop), each at its due time in its own goroutine and timed from then "+
		"(0: -syncload.clients clients each send their next request when the last is answered, which keeps both cores busy)")
	syncLoadCatchUp = flag.Duration("syncload.catchup", 15*time.Minute, "TestLoadWhileSyncing: how long the sync may take to catch up after a phase")
	syncLoadRounds  = flag.Int("syncload.rounds", 8, "TestLoadWhileSyncing: rounds of a phase without and a phase with sync (odd rounds without first, even ones with first); "+
		"the report gives the median of the rounds' p99 ratios")
	syncLoadGC       = flag.Int("syncload.gcpercent", 800, "TestLoadWhileSyncing: the GC percent of the process (serve's --gc-percent default; 100 is Go's own)")
	syncLoadFakeGC   = flag.Bool("syncload.fakegc", false, "TestLoadWhileSyncing: the fake engine's process collects garbage as Go does (by default only before each phase and past a soft limit)")
	syncLoadFakeNice = flag.Int("syncload.fakenice", 10, "TestLoadWhileSyncing: the niceness of the fake engine's process (it stands in for an engine on other machines; 0: our equal)")
	syncLoadFrame    = flag.Bool("syncload.frame", false, "TestLoadWhileSyncing: check each answer by its frame ({\"data\":{…}, errors decoded when it is not) instead of decoding it whole: "+
		"the clients run in the test's process, and decoding cost them a third of a phase's CPU")
	syncLoadTrace   = flag.String("syncload.trace", "", "TestLoadWhileSyncing: write an execution trace of each with-sync phase to FILE.rN (go tool trace)")
	syncLoadProfile = flag.String("syncload.cpuprofile", "", "TestLoadWhileSyncing: write a CPU profile of the with-sync phases (not the full passes) to this file; "+
		"samples carry the label part=sync|queries|clients|probes (the fake engine and its advancer run in a child process: not in the profile)")
)

// labelled runs h's requests with the pprof label part=name on the
// connection's goroutine (it keeps it for the connection's later requests).
func labelled(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.SetGoroutineLabels(pprof.WithLabels(r.Context(), pprof.Labels("part", name)))
		h.ServeHTTP(w, r)
	})
}

const syncLoadOp = "2251799813999001"

// benchQuery is one of e2e/bench/queries.json's questions, variables filled.
type benchQuery struct {
	name  string
	query string
	vars  []map[string]any // cycled through
}

// loadBenchQueries reads Q1–Q6 (their batchql shape) and fills the
// variables from the store's demo data, as the harness does: the biggest
// operation, the cursor 90% of the way into its FAILED items, process
// instance keys and item ids of sampled items.
func loadBenchQueries(t *testing.T, store *storage.Store, h http.Handler) []benchQuery {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "e2e", "bench", "queries.json"))
	require.NoError(t, err)
	var spec map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &spec))
	type shape struct {
		Query     string         `json:"query"`
		Same      string         `json:"same"`
		Variables map[string]any `json:"variables"`
	}
	shapes := map[string]shape{}
	for _, name := range []string{"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"} {
		var q struct{ Batchql shape }
		require.NoError(t, json.Unmarshal(spec[name], &q), name)
		shapes[name] = q.Batchql
	}

	ctx := context.Background()
	var biggest *storage.BatchOperation
	for page, after := 1000, ""; ; {
		ops, err := store.BatchOperations(ctx, storage.BatchOperationQuery{Page: storage.PageRequest{First: &page, After: after}})
		require.NoError(t, err)
		for _, e := range ops.Edges {
			if e.Node.BatchOperationKey != syncLoadOp && (biggest == nil || e.Node.OperationsTotalCount > biggest.OperationsTotalCount) {
				biggest = e.Node
			}
		}
		if !ops.HasNextPage {
			break
		}
		after = *ops.EndCursor()
	}
	require.NotNil(t, biggest)
	items, err := store.Items(ctx, storage.ItemQuery{Filter: storage.BatchOperationItemFilter{BatchOperationKey: &storage.StringFilter{Eq: &biggest.BatchOperationKey}}})
	require.NoError(t, err)
	require.NotEmpty(t, items.Edges)
	var piks, ids []map[string]any
	for i := 0; i < len(items.Edges) && len(ids) < 200; i += 7 {
		n := items.Edges[i].Node
		piks = append(piks, map[string]any{"pik": n.ProcessInstanceKey})
		ids = append(ids, map[string]any{"id": globalid.Item(n.BatchOperationKey, n.ItemKey)})
	}

	// @deepCursor: page through Q2 and take the cursor 90% of the way in
	var cursors []string
	var after any
	for {
		vars := map[string]any{"key": biggest.BatchOperationKey, "first": 100, "after": after}
		var r struct {
			Data struct {
				BatchOperation struct {
					Items struct {
						Edges    []struct{ Cursor string }
						PageInfo struct {
							HasNextPage bool
							EndCursor   *string
						}
					}
				}
			}
			Errors []any
		}
		require.NoError(t, json.Unmarshal(serveQuery(t, h, shapes["Q2"].Query, vars), &r))
		require.Empty(t, r.Errors)
		c := r.Data.BatchOperation.Items
		for _, e := range c.Edges {
			cursors = append(cursors, e.Cursor)
		}
		if !c.PageInfo.HasNextPage {
			break
		}
		after = *c.PageInfo.EndCursor
	}
	require.NotEmpty(t, cursors, "the biggest demo operation has FAILED items")

	fill := func(name string, with map[string]any) map[string]any {
		vars := map[string]any{}
		for k, v := range shapes[name].Variables {
			vars[k] = v
		}
		for k, v := range with {
			vars[k] = v
		}
		return vars
	}
	q2 := fill("Q2", map[string]any{"key": biggest.BatchOperationKey})
	q3 := fill("Q2", map[string]any{"key": biggest.BatchOperationKey, "after": cursors[len(cursors)*9/10]})
	for k, v := range shapes["Q3"].Variables {
		if k != "after" {
			q3[k] = v
		}
	}
	return []benchQuery{
		{"Q1", shapes["Q1"].Query, []map[string]any{fill("Q1", nil)}},
		{"Q2", shapes["Q2"].Query, []map[string]any{q2}},
		{"Q3", shapes["Q2"].Query, []map[string]any{q3}},
		{"Q4", shapes["Q4"].Query, piks},
		{"Q5", shapes["Q5"].Query, []map[string]any{fill("Q5", nil)}},
		{"Q6", shapes["Q6"].Query, ids},
	}
}

func serveQuery(t *testing.T, h http.Handler, query string, vars map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return rec.Body.Bytes()
}

// loadAvg is the first field of /proc/loadavg ("?" elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// runtimeSample is what the Go runtime says of the process at one time:
// collections, their CPU, and how long goroutines waited to run.
type runtimeSample []metrics.Sample

func sampleRuntime() runtimeSample {
	s := runtimeSample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	return s
}

// gcs is the collections the process has finished.
func (s runtimeSample) gcs() uint64 { return s[0].Value.Uint64() }

// since is what happened between a and s: collections, their CPU, and the
// 99th percentile of the time goroutines waited runnable (bucket upper
// bound).
func (s runtimeSample) since(a runtimeSample) (gcs uint64, gcCPU, sched99 time.Duration) {
	gcs = s.gcs() - a.gcs()
	gcCPU = time.Duration((s[1].Value.Float64() - a[1].Value.Float64()) * float64(time.Second))
	h0, h1 := a[2].Value.Float64Histogram(), s[2].Value.Float64Histogram()
	var n uint64
	counts := make([]uint64, len(h1.Counts))
	for i := range h1.Counts {
		counts[i] = h1.Counts[i] - h0.Counts[i]
		n += counts[i]
	}
	var acc uint64
	for i, c := range counts {
		if acc += c; n > 0 && acc*100 >= n*99 {
			sched99 = time.Duration(h1.Buckets[i+1] * float64(time.Second))
			break
		}
	}
	return gcs, gcCPU, sched99
}

// phaseResult is one measured phase.
type phaseResult struct {
	name     string
	lat      map[string]*latencies // spans' latencies by question, filled from spans
	requests int64
	errs     int64
	failures []string
	load     [2]string         // load average at start and end
	cpu      time.Duration     // the process's CPU time in the phase
	fake     syncLoadFakeStats // the fake engine process's counters over the phase
	rt       [2]runtimeSample  // at start and end
	spans    []span            // every request's, to place the slow ones
}

// span is one request: its query (index into the questions), when it
// started and how long it took.
type span struct {
	q     int
	start time.Time
	lat   time.Duration
}

// overlap is the share of all requests and of each question's slowest 1%
// that were under way during one of windows (the sync's polls).
func (r *phaseResult) overlap(windows [][2]time.Time, questions int) (all, slow float64) {
	in := func(sp span) bool {
		end := sp.start.Add(sp.lat)
		for _, w := range windows {
			if sp.start.Before(w[1]) && end.After(w[0]) {
				return true
			}
		}
		return false
	}
	byQ := make([][]span, questions)
	var nAll, inAll int
	for _, sp := range r.spans {
		byQ[sp.q] = append(byQ[sp.q], sp)
		nAll++
		if in(sp) {
			inAll++
		}
	}
	var nSlow, inSlow int
	for _, ss := range byQ {
		slices.SortFunc(ss, func(a, b span) int { return cmp.Compare(b.lat, a.lat) })
		for _, sp := range ss[:len(ss)/100] {
			nSlow++
			if in(sp) {
				inSlow++
			}
		}
	}
	return float64(inAll) / float64(max(nAll, 1)), float64(inSlow) / float64(max(nSlow, 1))
}

// runClients sends the queries round robin from n clients for d and
// counts every error: transport errors, non-200 statuses, GraphQL errors.
func runClients(url string, qs []benchQuery, n int, d time.Duration) *phaseResult {
	res := &phaseResult{}
	idle := n
	if *syncLoadQPS > 0 {
		idle = 64 // open loop: as many connections as requests in flight
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: idle}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var (
		wg             sync.WaitGroup
		requests, errs atomic.Int64
		mu             sync.Mutex
	)
	fail := func(format string, args ...any) {
		errs.Add(1)
		mu.Lock()
		if len(res.failures) < 10 {
			res.failures = append(res.failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	// ok is an answer without errors and with data. With -syncload.frame
	// it is checked by its frame, as the server writes it
	// (graph/transport.go: "errors" first when there are any), else
	// decoded whole (it takes CPU from the queries: the clients run in this
	// process). An answer that fails the check is decoded to say what was
	// wrong.
	ok := func(b []byte) bool {
		if *syncLoadFrame {
			return bytes.HasPrefix(b, []byte(`{"data":{`)) && bytes.HasSuffix(bytes.TrimRight(b, "\n"), []byte("}"))
		}
		var r struct {
			Data   map[string]any
			Errors []struct{ Message string }
		}
		return json.Unmarshal(b, &r) == nil && len(r.Errors) == 0 && r.Data != nil
	}
	deadline := time.Now().Add(d)
	// send sends question i (round robin, variables cycled), timed from
	// start (now when zero), records its span and checks the answer.
	send := func(i int, start time.Time, buf *bytes.Buffer) {
		qi := i % len(qs)
		q := qs[qi]
		vars := q.vars[(i/len(qs))%len(q.vars)]
		body, _ := json.Marshal(map[string]any{"query": q.query, "variables": vars})
		if start.IsZero() {
			start = time.Now()
		}
		resp, err := client.Post(url+"/query", "application/json", bytes.NewReader(body))
		requests.Add(1)
		if err != nil {
			fail("%s: %v", q.name, err)
			return
		}
		buf.Reset()
		_, rerr := buf.ReadFrom(resp.Body)
		resp.Body.Close()
		mu.Lock()
		res.spans = append(res.spans, span{qi, start, time.Since(start)})
		mu.Unlock()
		switch {
		case resp.StatusCode != http.StatusOK:
			fail("%s: HTTP %d", q.name, resp.StatusCode)
		case rerr != nil:
			fail("%s: body: %v", q.name, rerr)
		case !ok(buf.Bytes()):
			var r struct {
				Data   json.RawMessage
				Errors []struct{ Message string }
			}
			switch err := json.Unmarshal(buf.Bytes(), &r); {
			case err != nil:
				fail("%s: body: %v", q.name, err)
			case len(r.Errors) > 0:
				fail("%s: %s", q.name, r.Errors[0].Message)
			default:
				fail("%s: no data: %.200s", q.name, buf.Bytes())
			}
		}
	}
	labels := pprof.Labels("part", "clients")

	if *syncLoadQPS > 0 {
		// Open loop: request i is due at i/qps seconds and sent then in
		// its own goroutine, whatever the others wait for, and timed
		// from when it was due (a dispatcher that falls behind counts
		// too): a stall counts for every request due during it, and a
		// slow answer holds up no other request. The dispatcher's label
		// goes to the goroutines it starts, and ends with it.
		pprof.Do(context.Background(), labels, func(context.Context) {
			every := time.Second / time.Duration(*syncLoadQPS)
			begin := time.Now()
			for i := 0; ; i++ {
				due := begin.Add(time.Duration(i) * every)
				if !due.Before(deadline) {
					break
				}
				time.Sleep(time.Until(due))
				wg.Add(1)
				go func() {
					defer wg.Done()
					var buf bytes.Buffer
					send(i, due, &buf)
				}()
			}
		})
	} else {
		// Closed loop: each client sends its next request when the last
		// is answered.
		for c := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), labels))
				var buf bytes.Buffer
				for i := c; time.Now().Before(deadline); i++ {
					send(i, time.Time{}, &buf)
				}
			}()
		}
	}
	wg.Wait()
	res.requests, res.errs = requests.Load(), errs.Load()
	res.lat = map[string]*latencies{}
	for _, q := range qs {
		res.lat[q.name] = &latencies{}
	}
	for _, sp := range res.spans {
		res.lat[qs[sp.q].name].add(sp.lat)
	}
	return res
}

// storeCompleted is the number of the operation's items COMPLETED in the
// store: they complete in key order, so a binary search over point reads.
func storeCompleted(ctx context.Context, store *storage.Store, keys []string) (int, error) {
	lo, hi := 0, len(keys) // keys[:lo] completed, keys[hi:] not
	err := store.View(ctx, func(r *storage.Reader) error {
		for lo < hi {
			mid := (lo + hi) / 2
			it, err := r.Item(syncLoadOp, keys[mid])
			if err != nil {
				return err
			}
			if it != nil && it.State == "COMPLETED" {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return nil
	})
	return lo, err
}

// syncStats is what the syncer did during a phase.
type syncStats struct {
	fullPass, fullReqs string
	polls              int
	catchPolls         []time.Duration // polls that finished after the phase
	pollReqs           []int
	pollTimes          []time.Duration
	windows            [][2]time.Time  // the polls' (attempt, success)
	probes             []time.Duration // change in the fake → item COMPLETED in the store
	probesMissed       int
	lagAtEnd, movedEnd int
	movedPhase         int // items the fake completed during the phase
	catchUp            time.Duration
	syncErrs           int
	fake               syncLoadFakeStats // the fake's counters from the phase's start to its catch-up
}

// TestLoadWhileSyncing is the serving-while-syncing benchmark (contract
// §8): GraphQL clients send Q1–Q6 (e2e/bench/queries.json) round robin
// against the real router over a store holding the demo set and a running
// Camunda 8 operation of -syncload.items items (in the fake engine, run as a
// child process at a lower priority: syncload_fake_test.go), in rounds of
// a phase without sync and a phase with serve's syncer following the fake
// (--sync-interval 1s); in both the operation completes -syncload.rate
// items a second. Odd rounds run without sync first, even ones with sync
// first, and each phase starts from a collected heap. It asserts 0 errors
// and reports per-query p50/p99, the p99 ratios by round and their median,
// and what the sync did: requests and time per poll, freshness probes (an
// item completed in the fake → COMPLETED in the store), the lag at the end
// of the phase and the time to catch up, and how many of the slowest
// requests ran beside a poll. Not part of the default run:
//
//	go test ./web/ -run TestLoadWhileSyncing -syncload -timeout 60m -v
//	go test ./web/ -run TestLoadWhileSyncing -syncload -syncload.items 250000 -syncload.rounds 2 -v
//
// Each phase reports the test process's CPU time (server, sync, clients)
// and the fake's; -syncload.cpuprofile FILE profiles the with-sync
// phases, each sample labelled with the part that spent it (go tool pprof
// -tags FILE; -tagfocus=part=sync for the sync's).
func TestLoadWhileSyncing(t *testing.T) {
	if !*syncLoad {
		t.Skip("a benchmark: run with -syncload")
	}
	n, rate, d := *syncLoadItems, *syncLoadRate, *syncLoadDuration
	// both phases of a round complete items (the engine works on whether
	// we sync or not): the operation must last the run
	if need := int(2 * float64(*syncLoadRounds) * d.Seconds() * float64(rate)); need >= n {
		t.Fatalf("-syncload.items %d: the %d rounds complete about %d items (2 phases of %s at %d items/s each): raise -syncload.items or lower -syncload.rounds, -syncload.duration or -syncload.rate",
			n, *syncLoadRounds, need, d, rate)
	}
	// The collector's percent in both phases: serve's --gc-percent default
	// (800) or Go's (100). The fake engine runs in its own process (its n
	// items were most of this one's live heap when it did not), so the heap
	// here is the server's, the store's and the clients'.
	defer debug.SetGCPercent(debug.SetGCPercent(*syncLoadGC))
	ctx := context.Background()
	store, err := storage.Open(filepath.Join(t.TempDir(), "syncload.db"), storage.Options{})
	require.NoError(t, err)
	defer store.Close()
	_, err = demo.Write(ctx, store, demo.DefaultConfig())
	require.NoError(t, err)

	// the engine: one operation of n ACTIVE items, in a child process
	// (syncload_fake_test.go), as a real engine runs elsewhere
	fake, progress := startSyncLoadFake(t, n)
	keys := syncLoadKeys(n)
	t.Logf("fake: one Progress call over %d items takes %s (it sorts every item), so the advancer writes the moved items with PutItems", n, progress.Round(time.Millisecond))

	var current atomic.Pointer[syncer.Syncer]
	status := func() []syncer.Status {
		if sy := current.Load(); sy != nil {
			return sy.Status()
		}
		return nil
	}
	srv := httptest.NewServer(labelled("queries", NewRouter(store, graph.Config{SyncStatus: status}, nil, slog.New(slog.DiscardHandler), Options{})))
	defer srv.Close()

	// startSync starts serve's syncer and waits for its first (full) pass.
	startSync := func() (stop func(), sy *syncer.Syncer, full time.Duration) {
		sy, err := syncer.New(syncer.Config{Camunda8: &syncer.Camunda8Config{URL: fake.url + "/v2"}, Interval: time.Second},
			&syncer.StoreApplier{Store: store})
		require.NoError(t, err)
		current.Store(sy)
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			pprof.Do(sctx, pprof.Labels("part", "sync"), sy.Run)
		}()
		start := time.Now()
		for sy.Status()[0].LastFullAt == nil {
			require.Less(t, time.Since(start), 30*time.Minute, "first full pass")
			time.Sleep(50 * time.Millisecond)
		}
		return func() { cancel(); <-done; current.Store(nil) }, sy, time.Since(start)
	}

	// fill the store through the sync itself
	stop, sy, full := startSync()
	st := sy.Status()[0]
	stop()
	done, err := storeCompleted(ctx, store, keys)
	require.NoError(t, err)
	require.NoError(t, store.View(ctx, func(r *storage.Reader) error {
		it, err := r.Item(syncLoadOp, keys[n-1])
		if err == nil && it == nil {
			err = fmt.Errorf("item %s not synced", keys[n-1])
		}
		return err
	}))
	t.Logf("setup: first full pass over %d items: %s, %d requests; %d completed", n, full.Round(time.Millisecond), st.LastFullRequests, done)

	qs := loadBenchQueries(t, store, srv.Config.Handler)
	runClients(srv.URL, qs, *syncLoadClients, 2*time.Second) // warm-up

	var results []*phaseResult   // in the order run
	var rounds [][2]*phaseResult // without, with sync
	var stats []*syncStats
	for round := 1; round <= *syncLoadRounds; round++ {
		// Odd rounds measure without sync first, even ones with sync
		// first (ABBA), so that a drift of the machine over the run
		// does not favour one side.
		var pair [2]*phaseResult
		without := func() {
			// The engine works on as in the phase with sync (its
			// process takes CPU from ours in both); nothing syncs.
			require.NoError(t, fake.advance(rate))
			require.NoError(t, fake.collect())
			fs0, err := fake.stats()
			require.NoError(t, err)
			runtime.GC() // both phases start from a collected heap
			l0, c0, rt0 := loadAvg(), cpuTime(), sampleRuntime()
			res := runClients(srv.URL, qs, *syncLoadClients, d)
			res.name, res.load, res.cpu = fmt.Sprintf("r%d without sync", round), [2]string{l0, loadAvg()}, cpuTime()-c0
			res.rt = [2]runtimeSample{rt0, sampleRuntime()}
			fs1, err := fake.stats()
			require.NoError(t, err)
			_, err = fake.stop()
			require.NoError(t, err)
			res.fake = fs1.since(fs0)
			results, pair[0] = append(results, res), res
		}
		if round%2 == 1 {
			without()
		}

		// with sync
		stop, sy, full := startSync()
		ss := &syncStats{fullPass: full.Round(time.Millisecond).String(), fullReqs: strconv.Itoa(sy.Status()[0].LastFullRequests)}
		fs0, err := fake.stats()
		require.NoError(t, err)
		require.NoError(t, fake.advance(rate))
		actx, acancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var probeErr error
		wg.Add(1)
		wctx, wcancel := context.WithCancel(ctx)
		var phaseOver atomic.Bool
		watched := make(chan struct{})
		go func() { // poll watcher, through the phase and the catch-up
			defer close(watched)
			pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("part", "probes")))
			var last time.Time
			for wctx.Err() == nil {
				s := sy.Status()[0]
				if s.LastSuccessAt != nil && !s.LastPollFull && s.LastSuccessAt.After(last) && s.LastAttemptAt != nil {
					last = *s.LastSuccessAt
					p := s.LastSuccessAt.Sub(*s.LastAttemptAt)
					if phaseOver.Load() {
						ss.catchPolls = append(ss.catchPolls, p)
					} else {
						ss.polls++
						ss.pollReqs = append(ss.pollReqs, s.LastPollRequests)
						ss.pollTimes = append(ss.pollTimes, p)
						ss.windows = append(ss.windows, [2]time.Time{*s.LastAttemptAt, *s.LastSuccessAt})
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		go func() { // freshness probes: the fake completes its next item now, until the store has it
			defer wg.Done()
			pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("part", "probes")))
			for {
				select {
				case <-actx.Done():
					return
				case <-time.After(time.Second):
				}
				t0 := time.Now() // before the change: the probe includes the request's round trip
				i, err := fake.probe()
				if err != nil {
					probeErr = err
					return
				}
				if i < 0 {
					continue // every item is completed
				}
				answered := false
				for actx.Err() == nil {
					var ok bool
					_ = store.View(ctx, func(r *storage.Reader) error {
						it, _ := r.Item(syncLoadOp, keys[i])
						ok = it != nil && it.State == "COMPLETED"
						return nil
					})
					if ok {
						ss.probes, answered = append(ss.probes, time.Since(t0)), true
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				if !answered {
					ss.probesMissed++ // still not there at the end of the phase
				}
			}
		}()
		var prof *os.File
		if *syncLoadProfile != "" {
			path := *syncLoadProfile
			if round > 1 {
				path += fmt.Sprintf(".r%d", round)
			}
			prof, err = os.Create(path)
			require.NoError(t, err)
			require.NoError(t, pprof.StartCPUProfile(prof))
		}
		var tf *os.File
		if *syncLoadTrace != "" {
			tf, err = os.Create(fmt.Sprintf("%s.r%d", *syncLoadTrace, round))
			require.NoError(t, err)
			require.NoError(t, trace.Start(tf))
		}
		require.NoError(t, fake.collect())
		runtime.GC()
		l0, c0, rt0 := loadAvg(), cpuTime(), sampleRuntime()
		fsStart, err := fake.stats()
		require.NoError(t, err)
		res := runClients(srv.URL, qs, *syncLoadClients, d)
		res.name, res.load, res.cpu = fmt.Sprintf("r%d with sync", round), [2]string{l0, loadAvg()}, cpuTime()-c0
		res.rt = [2]runtimeSample{rt0, sampleRuntime()}
		fsEnd, err := fake.stats()
		require.NoError(t, err)
		res.fake = fsEnd.since(fsStart)
		ss.movedPhase = res.fake.Moved
		if prof != nil {
			pprof.StopCPUProfile()
			require.NoError(t, prof.Close())
		}
		if tf != nil {
			trace.Stop()
			require.NoError(t, tf.Close())
		}
		acancel()
		phaseOver.Store(true)
		wg.Wait() // no probe under way: one that completed an item after stop counted it in no movedEnd
		movedEnd, advErr := fake.stop()
		require.NoError(t, advErr)
		require.NoError(t, probeErr)
		fs1, err := fake.stats()
		require.NoError(t, err)
		ss.movedEnd = movedEnd
		ss.fake = fs1.since(fs0)
		got, err := storeCompleted(ctx, store, keys)
		require.NoError(t, err)
		ss.lagAtEnd = ss.movedEnd - got
		t0 := time.Now()
		// caught up: the store has every completed item and a poll finished
		// after the phase (its time is the cost of one poll)
		polled := func() bool {
			s := sy.Status()[0]
			return s.LastSuccessAt != nil && !s.LastPollFull && s.LastSuccessAt.After(t0)
		}
		for (got < ss.movedEnd || !polled()) && time.Since(t0) < *syncLoadCatchUp {
			time.Sleep(100 * time.Millisecond)
			got, err = storeCompleted(ctx, store, keys)
			require.NoError(t, err)
		}
		ss.catchUp = time.Since(t0)
		time.Sleep(100 * time.Millisecond) // the watcher sees the last poll
		wcancel()
		<-watched
		require.True(t, polled(), "a poll finished within -syncload.catchup")
		require.Equal(t, ss.movedEnd, got, "the sync caught up with the fake")
		ss.syncErrs = sy.Status()[0].Errors
		stop()
		results, pair[1] = append(results, res), res
		stats = append(stats, ss)
		if round%2 == 0 {
			without()
		}
		rounds = append(rounds, pair)
	}

	// report
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d items, %d items/s, %d clients, %s a phase, GOMAXPROCS %s\n", n, rate, *syncLoadClients, d, os.Getenv("GOMAXPROCS"))
	const cols = "%-18s %8s %6s %11s %7s %8s %13s %9s" // then one column a question
	blank := func(name string) { fmt.Fprintf(&b, cols, name, "", "", "", "", "", "", "") }
	fmt.Fprintf(&b, cols, "phase", "requests", "errors", "load", "CPU s", "fake s/GCs", "GCs/GC CPU s", "sched p99")
	for _, q := range qs {
		fmt.Fprintf(&b, " %15s", q.name+" p50/p99")
	}
	b.WriteString("\n")
	for _, r := range results {
		gcs, gcCPU, sched99 := r.rt[1].since(r.rt[0])
		fmt.Fprintf(&b, cols, r.name, strconv.FormatInt(r.requests, 10), strconv.FormatInt(r.errs, 10), r.load[0]+"→"+r.load[1], fmt.Sprintf("%.1f", r.cpu.Seconds()),
			fmt.Sprintf("%.1f/%d", r.fake.CPU.Seconds(), r.fake.GCs), fmt.Sprintf("%d/%.2f", gcs, gcCPU.Seconds()), ms(sched99))
		for _, q := range qs {
			_, p50, p99, _ := r.lat[q.name].summary()
			fmt.Fprintf(&b, " %15s", fmt.Sprintf("%s/%s", ms(p50), ms(p99)))
		}
		b.WriteString("\n")
	}
	ratios := make([][]float64, len(qs)) // by query, a ratio a round
	for i, pair := range rounds {
		blank(fmt.Sprintf("r%d p99 ratio", i+1))
		for j, q := range qs {
			_, _, without, _ := pair[0].lat[q.name].summary()
			_, _, with, _ := pair[1].lat[q.name].summary()
			r := float64(with) / float64(without)
			ratios[j] = append(ratios[j], r)
			fmt.Fprintf(&b, " %15s", fmt.Sprintf("%.2f×", r))
		}
		b.WriteString("\n")
	}
	if len(rounds) > 1 {
		blank("median p99 ratio")
		for j := range qs {
			slices.Sort(ratios[j])
			m := len(ratios[j]) / 2
			r := ratios[j][m]
			if len(ratios[j])%2 == 0 {
				r = (ratios[j][m-1] + r) / 2
			}
			fmt.Fprintf(&b, " %15s", fmt.Sprintf("%.2f×", r))
		}
		b.WriteString("\n")
	}
	for i, s := range stats {
		maxProbe, maxPoll := time.Duration(0), time.Duration(0)
		for _, p := range s.probes {
			maxProbe = max(maxProbe, p)
		}
		for _, p := range s.pollTimes {
			maxPoll = max(maxPoll, p)
		}
		fmt.Fprintf(&b, "r%d sync: full pass %s (%s requests) before the phase; %d polls finished in the phase, requests %v, times %v (max %s); "+
			"item searches in the phase %d (%.1f MB), the fake's time in them %s, its process's CPU %s; "+
			"freshness probes %v (max %s, %d unanswered at the end); fake completed %d in the phase, %d in all, store lagged %d items at the end, store and a finished poll caught up in %s (polls finished meanwhile: %v); sync errors %d\n",
			i+1, s.fullPass, s.fullReqs, s.polls, s.pollReqs, roundAll(s.pollTimes), ms(maxPoll), s.fake.Searches, float64(s.fake.Bytes)/1e6, ms(s.fake.SearchTime), ms(s.fake.CPU), roundAll(s.probes), ms(maxProbe), s.probesMissed,
			s.movedPhase, s.movedEnd, s.lagAtEnd, ms(s.catchUp), roundAll(s.catchPolls), s.syncErrs)
		// Were the slow requests the ones a poll ran beside? The share
		// of all requests under way during a poll is the base.
		all, slow := rounds[i][1].overlap(s.windows, len(qs))
		fmt.Fprintf(&b, "r%d with sync: %.0f%% of all requests and %.0f%% of each question's slowest 1%% were under way during a poll\n", i+1, 100*all, 100*slow)
	}
	t.Log(b.String())
	for _, r := range results {
		for _, f := range r.failures {
			t.Errorf("%s: %s", r.name, f)
		}
		require.Zero(t, r.errs, "%s: errors", r.name)
		require.Positive(t, r.requests)
	}
	require.NoError(t, store.Verify(ctx))
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func roundAll(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}
