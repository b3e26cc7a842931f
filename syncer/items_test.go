package syncer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
)

// nextPoll waits for a poll of eng that started after t to finish and
// returns the status it left.
func (e *env) nextPoll(eng syncer.Engine, t time.Time) syncer.Status {
	e.t.Helper()
	var st syncer.Status
	eventually(e.t, "a poll after the change", func() bool {
		st = e.status(eng)
		return st.LastAttemptAt != nil && st.LastAttemptAt.After(t) && st.LastSuccessAt != nil && !st.LastSuccessAt.Before(*st.LastAttemptAt)
	})
	return st
}

// staleItems lists the items of op whose state or processedDate in the
// store differ from the fake's.
func (e *env) staleItems(op string) []string {
	e.t.Helper()
	return e.compareItems(op, true)
}

// compareItems is staleItems; with missing false it leaves out the items
// not stored yet.
func (e *env) compareItems(op string, missing bool) []string {
	e.t.Helper()
	var stale []string
	require.NoError(e.t, e.store.View(context.Background(), func(r *storage.Reader) error {
		for _, want := range e.c8.Items(op) {
			got, err := r.Item(op, want.ItemKey)
			if err != nil {
				return err
			}
			switch {
			case got == nil:
				if missing {
					stale = append(stale, want.ItemKey+" missing")
				}
			case string(got.State) != want.State || !sameMillis(got.ProcessedDate, want.ProcessedDate):
				stale = append(stale, fmt.Sprintf("%s %s, want %s", want.ItemKey, got.State, want.State))
			}
		}
		return nil
	}))
	if len(stale) > 5 {
		stale = append(stale[:5], fmt.Sprintf("... %d stale items in all", len(stale)))
	}
	return stale
}

// itemWalk reads r's body (and puts it back) for a wrapper of the fake
// engine; walk reports an item search in itemKey order: a full read, of
// one operation's items (filtered) or of all.
func itemWalk(r *http.Request) (body []byte, walk bool) {
	body, _ = io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, r.URL.Path == "/v2/batch-operation-items/search" && bytes.Contains(body, []byte(`{"field":"itemKey","order":"ASC"}`))
}

func sameMillis(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UnixMilli() == b.UnixMilli()
}

// itemSearchKinds sorts the logged item searches into full reads (by
// itemKey) and incremental ones (by processedDate).
func itemSearchKinds(c8 *enginefake.Camunda8) (full, incremental int) {
	for _, body := range searches(c8, "/v2/batch-operation-items/search") {
		sort, _ := json.Marshal(body["sort"])
		if string(sort) == `[{"field":"processedDate","order":"DESC"},{"field":"itemKey","order":"DESC"}]` {
			incremental++
		} else {
			full++
		}
	}
	return full, incremental
}

// runningItemsFreshness runs one operation of n items through steps of
// progress between polls, with the fake's clock moved or not (changes in
// the same millisecond as the newest processedDate read), and returns the
// requests of the steady polls. After each step's next poll, the store
// holds every item as the fake has it.
func runningItemsFreshness(t *testing.T, n int) []int {
	clock := enginefake.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e := newEnv(t, envOpts{no7: true, c8: []enginefake.Option{enginefake.WithClock(clock)}})
	const op = "2251799813685001"
	e.c8.Create(op, "MIGRATE_PROCESS_INSTANCE", n)
	require.NoError(t, e.c8.Progress(op, 10, 0))
	e.run()
	eventually(t, "full pass", func() bool { return e.status(syncer.Camunda8).LastFullAt != nil })
	require.Empty(t, e.staleItems(op), "after the full pass")

	var reqs []int
	steps := []struct {
		advance           time.Duration
		completed, failed int
	}{
		{time.Minute, 40, 10},
		{0, 30, 0}, // the same millisecond as the newest processedDate read
		{time.Millisecond, 0, 5},
		{0, 25, 0},
		{time.Hour, 50, 0},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		require.NoError(t, e.c8.Progress(op, s.completed, s.failed))
		e.c8.ResetRequests()
		st := e.nextPoll(syncer.Camunda8, time.Now())
		require.Empty(t, e.staleItems(op), "step %d: every change served after the next poll", i)
		require.False(t, st.LastPollFull)
		reqs = append(reqs, st.LastPollRequests)
		full, incremental := itemSearchKinds(e.c8)
		assert.Zero(t, full, "step %d: no poll re-reads all items of the running operation", i)
		assert.Positive(t, incremental, "step %d", i)
	}

	// an item that becomes visible late, processed 1s before the newest
	// processedDate read (within the overlap)
	late := e.c8.Items(op)[n-1]
	require.Equal(t, "ACTIVE", late.State)
	at := clock.Now().Add(-time.Second)
	late.State, late.ProcessedDate = "COMPLETED", &at
	e.c8.PutItems(late)
	e.nextPoll(syncer.Camunda8, time.Now())
	require.Empty(t, e.staleItems(op), "an item processed within the overlap before the newest read")

	// a new item: operationsTotalCount changes, the items are read in full
	e.c8.PutItems(enginefake.Item{OperationType: "MIGRATE_PROCESS_INSTANCE", OperationKey: op, ItemKey: "1", ProcessInstanceKey: "1", State: "ACTIVE"})
	require.NoError(t, e.c8.UpdateOperation(op, func(o *enginefake.Operation) { o.TotalCount++ }))
	e.nextPoll(syncer.Camunda8, time.Now())
	require.Empty(t, e.staleItems(op), "a new item of a running operation")

	// an item that becomes visible an hour late (beyond the overlap) is
	// served when the operation finishes: its items are read once more,
	// a few pages a poll
	older := e.c8.Items(op)[n-2]
	require.Equal(t, "ACTIVE", older.State)
	at = clock.Now().Add(-time.Hour)
	older.State, older.ProcessedDate = "FAILED", &at
	e.c8.PutItems(older)
	require.NoError(t, e.c8.Finish(op))
	eventually(t, "the finished operation's items", func() bool { return len(e.staleItems(op)) == 0 })
	require.True(t, e.converged(op), "GraphQL serves the finished operation as the fake has it")
	return reqs
}

// A steady poll of a running operation reads the items processed since the
// last poll, not all of them (contract §8: freshness within 2 × interval,
// cost in proportion to running work): every change is in the store after
// the next poll — including changes in the same millisecond as the newest
// processedDate read, an item that shows up late within the overlap (both
// past the first page in TestCamunda8ItemsOverlap) and a new item — and a
// poll sends the same requests at 1,000 and 10,000
// items: 3 (running operations, recent operations, one page of changed
// items). Before, a poll re-read every item: 2 + 10 requests at 10,000.
func TestCamunda8RunningItemsIncremental(t *testing.T) {
	small := runningItemsFreshness(t, 1000)
	big := runningItemsFreshness(t, 10000)
	t.Logf("requests per steady poll: %v (1,000 items), %v (10,000 items)", small, big)
	assert.Equal(t, small, big, "requests per steady poll do not grow with the items")
	for _, n := range small {
		assert.Equal(t, 3, n)
	}
}

// The incremental read converges whatever the engine does with its
// filters and sorts: with #33720 (the state filter $neq ACTIVE keeps the
// ACTIVE items in) and on 8.8 (no sort by processedDate: the first
// incremental search gets 400, the running operation's items are read in
// full, and the poll does not fail).
func TestCamunda8IncrementalItemsEngineVariants(t *testing.T) {
	for _, tc := range []struct {
		name             string
		opt              enginefake.Option
		fullReadsOnly    bool
		maxRefusedSearch int
	}{
		{"bug33720", enginefake.WithBug33720(), false, 0},
		{"8.8 item sorts", enginefake.WithItemSorts88(), true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{no7: true, c8: []enginefake.Option{tc.opt}})
			const op = "2251799813685001"
			e.c8.Create(op, "CANCEL_PROCESS_INSTANCE", 30)
			e.run()
			eventually(t, "created", func() bool { return e.converged(op) })
			for step := range 4 {
				require.NoError(t, e.c8.Progress(op, 5, 1))
				st := e.nextPoll(syncer.Camunda8, time.Now())
				require.Equal(t, syncer.OK, st.State, "step %d", step)
				require.Nil(t, st.LastError, "step %d", step)
				require.Empty(t, e.staleItems(op), "step %d", step)
			}
			refused := 0
			for _, r := range e.c8.Requests() {
				if r.Status == 400 {
					refused++
				}
			}
			assert.Equal(t, tc.maxRefusedSearch, refused, "refused searches: one, then full reads until the next full reconciliation")
			e.c8.ResetRequests()
			e.nextPoll(syncer.Camunda8, time.Now())
			full, incremental := itemSearchKinds(e.c8)
			if tc.fullReadsOnly {
				assert.Zero(t, incremental)
				assert.Positive(t, full)
			} else {
				assert.Positive(t, incremental)
			}
			require.NoError(t, e.c8.Finish(op))
			eventually(t, "finished", func() bool { return e.converged(op) })
		})
	}
}

// The items of several running operations are read incrementally side by
// side, and an operation first seen running in a poll (not in the full
// pass) is read in full once, then incrementally.
func TestCamunda8IncrementalItemsNewOperation(t *testing.T) {
	e := newEnv(t, envOpts{no7: true})
	e.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 20)
	e.run()
	eventually(t, "full pass", func() bool { return e.status(syncer.Camunda8).LastFullAt != nil })
	keys := []string{"2251799813685001"}
	for i := range 3 {
		k := strconv.Itoa(2251799813686000 + i)
		e.c8.Create(k, "DELETE_PROCESS_INSTANCE", 15)
		keys = append(keys, k)
	}
	eventually(t, "new operations", func() bool { return e.converged(keys...) })
	for step := range 3 {
		for _, k := range keys {
			require.NoError(t, e.c8.Progress(k, 2, 1))
		}
		e.c8.ResetRequests()
		e.nextPoll(syncer.Camunda8, time.Now())
		for _, k := range keys {
			require.Empty(t, e.staleItems(k), "step %d, operation %s", step, k)
		}
		full, incremental := itemSearchKinds(e.c8)
		assert.Zero(t, full, "step %d", step)
		assert.GreaterOrEqual(t, incremental, len(keys), "step %d", step)
	}
}

// countingApplier counts the item patches applied.
type countingApplier struct {
	syncer.Applier
	items atomic.Int64
}

func (a *countingApplier) Apply(ctx context.Context, patches []*importer.Patch) (syncer.Result, error) {
	for _, p := range patches {
		if p.Kind() == "batch operation item" {
			a.items.Add(1)
		}
	}
	return a.Applier.Apply(ctx, patches)
}

// The overlap, where it matters: changes that sort past the first page
// of the incremental walk. Items processed in the same millisecond as the
// newest processedDate read, but with lower item keys (so they sort after
// a page of older items of that millisecond), and items that become
// visible late, processed a second before the newest read, more than a
// page of them: all are served after the next poll. A walk that stopped at
// the newest date read (or had no overlap) would stop a page early. The
// items of the overlap are read again at every poll, but only the changed
// ones go to the store.
func TestCamunda8ItemsOverlap(t *testing.T) {
	clock := enginefake.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	counted := &countingApplier{}
	e := newEnv(t, envOpts{no7: true, c8: []enginefake.Option{enginefake.WithClock(clock)},
		wrap: func(a syncer.Applier) syncer.Applier { counted.Applier = a; return counted }})
	const op = "2251799813685001"
	e.c8.Create(op, "CANCEL_PROCESS_INSTANCE", 2400)
	e.run()
	eventually(t, "full pass", func() bool { return e.status(syncer.Camunda8).LastFullAt != nil })
	items := e.c8.Items(op) // itemKey order
	e.c8.ResetRequests()
	process := func(from, to int, state string, at time.Time) {
		batch := make([]enginefake.Item, 0, to-from)
		for _, it := range items[from:to] {
			it.State, it.ProcessedDate = state, &at
			batch = append(batch, it)
		}
		e.c8.PutItems(batch...)
	}
	clock.Advance(time.Minute)
	now := clock.Now()
	steps := []struct {
		what     string
		from, to int
		state    string
		at       time.Time
	}{
		{"1,100 items at T (high keys)", 1200, 2300, "COMPLETED", now},
		{"100 more at T, keys below them: the second page", 0, 100, "FAILED", now},
		{"1,100 visible late, processed at T-1s: past the page where T ends", 100, 1200, "COMPLETED", now.Add(-time.Second)},
	}
	for _, s := range steps {
		process(s.from, s.to, s.state, s.at)
		e.nextPoll(syncer.Camunda8, time.Now())
		require.Empty(t, e.staleItems(op), s.what)
	}
	full, _ := itemSearchKinds(e.c8)
	assert.Zero(t, full, "no full read after the first full pass")

	// steady: the 2,300 items of the overlap are read, none is stored again
	e.nextPoll(syncer.Camunda8, time.Now()) // the poll that stored the last step is over
	before := counted.items.Load()
	e.c8.ResetRequests()
	e.nextPoll(syncer.Camunda8, time.Now())
	_, incremental := itemSearchKinds(e.c8)
	assert.GreaterOrEqual(t, incremental, 3, "the overlap's items are read again")
	assert.Zero(t, counted.items.Load()-before, "no unchanged item goes to the store")
	// ten more: those ten go to the store
	before = counted.items.Load()
	process(2300, 2310, "COMPLETED", now)
	e.nextPoll(syncer.Camunda8, time.Now())
	require.Empty(t, e.staleItems(op))
	assert.EqualValues(t, 10, counted.items.Load()-before, "only the changed items go to the store")
}

// A full read of a running operation's items takes a while (1,000 pages
// at 1,000,000 items), and items keep being processed meanwhile: those
// behind its cursor it does not see, while those ahead of it carry newer
// dates. The incremental reads after it start from the newest
// processedDate before it, not the newest it saw: here 1,100 items are
// processed behind the cursor of the first full pass, then 1,200 ahead of
// it an hour later; all are served after the next poll.
func TestCamunda8FullReadWhileProcessing(t *testing.T) {
	clock := enginefake.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	const op = "2251799813685001"
	var e *env
	var pages atomic.Int32
	e = newEnv(t, envOpts{no7: true, c8: []enginefake.Option{enginefake.WithClock(clock)},
		wrap8: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, walk := itemWalk(r)
				h.ServeHTTP(w, r)
				if !walk {
					return
				}
				if pages.Add(1) != 2 {
					return
				}
				// the full pass has read keys 0–1,999: process some behind its
				// cursor, then, an hour later, more ahead of it
				items := e.c8.Items(op)
				process := func(from, to int) {
					at := clock.Now()
					batch := make([]enginefake.Item, 0, to-from)
					for _, it := range items[from:to] {
						it.State, it.ProcessedDate = "COMPLETED", &at
						batch = append(batch, it)
					}
					e.c8.PutItems(batch...)
				}
				clock.Advance(time.Minute)
				process(100, 1200)
				clock.Advance(time.Hour)
				process(2100, 3300)
			})
		}})
	e.c8.Create(op, "MIGRATE_PROCESS_INSTANCE", 3500)
	require.NoError(t, e.c8.Progress(op, 10, 0))
	e.run()
	eventually(t, "full pass", func() bool { return e.status(syncer.Camunda8).LastFullAt != nil })
	require.GreaterOrEqual(t, pages.Load(), int32(4), "the full pass read the items in pages")
	e.nextPoll(syncer.Camunda8, time.Now())
	require.Empty(t, e.staleItems(op), "items processed during the full read, behind its cursor")
}

// A full reconciliation over many items takes a while (1,000,000 items:
// 6–15 s in web's TestLoadWhileSyncing); running work must still be served
// within 2 × interval meanwhile (contract §8), so a full pass polls running
// work between its item pages when a poll is due: the first after a start
// (from the state it seeds) as well as the later ones (from the state the
// one before left). Here an item completes while the pass reads its first
// page of items; by the time the pass asks for its second page, the store
// has it. Items processed behind the pass's cursor after that poll are
// read by the polls after the pass.
func TestCamunda8PollsDuringFullReconciliation(t *testing.T) {
	for _, pass := range []int32{1, 2} {
		t.Run(fmt.Sprintf("pass %d", pass), func(t *testing.T) { pollsDuringFullPass(t, pass) })
	}
}

func pollsDuringFullPass(t *testing.T, pass int32) {
	const op = "2251799813685001"
	cfg := testConfig()
	// polls 200 ms apart, so one is due after the first page (the fake
	// waits 400 ms there) and none after the later pages (ms apart); the
	// third full pass comes well after the poll that follows the second
	cfg.Interval, cfg.FullInterval = 200*time.Millisecond, 1500*time.Millisecond
	var e *env
	var walks, pages atomic.Int32
	stale := make(chan []string, 1)
	e = newEnv(t, envOpts{no7: true, cfg: cfg,
		wrap8: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, walk := itemWalk(r)
				fullWalk := walk && !bytes.Contains(body, []byte(`"filter"`))
				first := fullWalk && !bytes.Contains(body, []byte(`"after"`))
				second := fullWalk && !first && walks.Load() == pass && pages.Add(1) == 1
				if second {
					stale <- e.compareItems(op, false) // the pass's second page (pass 1 stored only the first)
				}
				// the answer is made before the changes below and sent after
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if second {
					// items behind the walk's cursor, after the last poll
					// between its pages: the poll after the pass reads them
					assert.NoError(t, e.c8.Progress(op, 1100, 0)) // more than a page
				}
				if first && walks.Add(1) == pass {
					assert.NoError(t, e.c8.Progress(op, 1, 0))
					time.Sleep(2 * cfg.Interval) // a poll is due when the page is stored
				}
				maps.Copy(w.Header(), rec.Header())
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
			})
		}})
	e.c8.Create(op, "MIGRATE_PROCESS_INSTANCE", 3500)
	require.NoError(t, e.c8.Progress(op, 10, 0))
	e.run()
	select {
	case got := <-stale:
		assert.Empty(t, got, "the item completed during the full pass's first page was not served before its second")
	case <-time.After(60 * time.Second):
		t.Fatalf("no full pass %d within 60 s", pass)
	}
	e.nextPoll(syncer.Camunda8, time.Now()) // the next poll after the pass
	assert.Empty(t, e.staleItems(op), "items processed behind the pass's cursor")
}

// An operation's items are read in full when it is first seen running
// and once more after it finishes: at 1,000,000 items, 1,000 pages. Such
// a read goes on over several polls, a few pages each, so the other
// running operations are still polled every interval meanwhile (contract
// §8: 2 × interval). Here operation A (5 pages of items, each page 150 ms
// while counted) appears after the first full pass, or finishes; B's item
// completed while A's second page is served is in the store before A's
// last page is asked for. Read in one go, A's five pages came back to back
// in one poll and B's change waited for the poll after it. An item added
// to running A behind the read's cursor (with a new operationsTotalCount)
// is read by the full read that follows.
func TestCamunda8FullReadDoesNotHoldUpOtherOperations(t *testing.T) {
	for _, finished := range []bool{false, true} {
		name := "first seen running"
		if finished {
			name = "read once more after it finished"
		}
		t.Run(name, func(t *testing.T) { fullReadBeside(t, finished) })
	}
}

func fullReadBeside(t *testing.T, finished bool) {
	const a, b = "2251799813685101", "2251799813685102"
	cfg := testConfig()
	cfg.Interval = 200 * time.Millisecond // a full read reads for at most 100 ms a poll: one page
	var e *env
	var counting atomic.Bool
	var fills atomic.Int32
	staleB := make(chan []string, 1)
	e = newEnv(t, envOpts{no7: true, cfg: cfg,
		wrap8: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, walk := itemWalk(r)
				fullOfA := walk && bytes.Contains(body, []byte(`"batchOperationKey":"`+a+`"`))
				if !fullOfA || !counting.Load() {
					h.ServeHTTP(w, r)
					return
				}
				switch fills.Add(1) {
				case 2: // B was read beside A's first page (reads run 2 at a time)
					assert.NoError(t, e.c8.Progress(b, 2, 0))
				case 3:
					if !finished { // a new item behind the read's cursor: another full read reads it
						e.c8.PutItems(enginefake.Item{OperationType: "MIGRATE_PROCESS_INSTANCE", OperationKey: a, ItemKey: "1", ProcessInstanceKey: "1", State: "ACTIVE"})
						assert.NoError(t, e.c8.UpdateOperation(a, func(o *enginefake.Operation) { o.TotalCount++ }))
					}
				case 5:
					staleB <- e.staleItems(b)
				}
				time.Sleep(150 * time.Millisecond)
				h.ServeHTTP(w, r)
			})
		}})
	e.c8.Create(b, "MIGRATE_PROCESS_INSTANCE", 10)
	require.NoError(t, e.c8.Progress(b, 1, 0))
	e.run()
	eventually(t, "full pass", func() bool { return e.status(syncer.Camunda8).LastFullAt != nil })
	e.c8.Create(a, "MIGRATE_PROCESS_INSTANCE", 4500)
	require.NoError(t, e.c8.Progress(a, 0, 0))
	if finished {
		eventually(t, "A's items", func() bool { return len(e.staleItems(a)) == 0 })
		e.nextPoll(syncer.Camunda8, time.Now())
		counting.Store(true)
		require.NoError(t, e.c8.Finish(a))
	} else {
		counting.Store(true)
	}
	select {
	case got := <-staleB:
		assert.Empty(t, got, "B's change waited for A's full read")
	case <-time.After(60 * time.Second):
		t.Fatal("A's items were not read in 5 pages within 60 s")
	}
	eventually(t, "A's items", func() bool { return len(e.staleItems(a)) == 0 })
	e.nextPoll(syncer.Camunda8, time.Now())
	assert.Empty(t, e.staleItems(b))
}
