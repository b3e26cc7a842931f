package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
)

var (
	loadLong     = flag.Bool("load.long", false, "TestLoadWithConcurrentWrites: the long variant (60s, 500,000 items) that also asserts a max latency below 1s")
	loadDuration = flag.Duration("load.duration", 0, "TestLoadWithConcurrentWrites: how long the clients run (default 5s, 60s with -load.long)")
	loadItems    = flag.Int("load.items", 0, "TestLoadWithConcurrentWrites: items of the big operation (default 40,000, 500,000 with -load.long)")
	loadClients  = flag.Int("load.clients", 8, "TestLoadWithConcurrentWrites: concurrent GraphQL clients")
)

const (
	loadBigOp = "2251799813685000"
	loadOps   = 2000
)

// writeLoadFile writes loadOps operations and the big operation's items.
// Variants 0 and 1 change the state and dates of every record, so each
// import moves every record in the state and date indexes.
func writeLoadFile(t *testing.T, path string, items, variant int) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	opStates := []string{"ACTIVE", "SUSPENDED", "COMPLETED", "ACTIVE", "CANCELED", "SUSPENDED", "FAILED"}
	itemStates := []string{"FAILED", "COMPLETED", "ACTIVE", "FAILED", "SKIPPED"}
	for o := range loadOps {
		date := "null"
		if (o+variant)%11 != 0 {
			date = fmt.Sprintf(`"2025-%02d-%02dT%02d:%02d:00.000Z"`, 1+(o+variant)%12, 1+o%28, o%24, (o*7+variant)%60)
		}
		fmt.Fprintf(w, `{"batchOperationKey":"%d","batchOperationType":"MIGRATE_PROCESS_INSTANCE","state":%q,"startDate":%s,`+
			`"operationsTotalCount":0,"operationsFailedCount":0,"operationsCompletedCount":0,"errors":[]}`+"\n",
			2251799813685000+o, opStates[(o+variant)%len(opStates)], date)
	}
	for i := range items {
		date := "null"
		if (i+variant)%9 != 0 {
			// Few distinct dates: many ties, broken by itemKey.
			date = fmt.Sprintf(`"2025-06-%02dT11:%02d:00.000Z"`, 1+(i/7+variant)%28, (i*13+variant)%60)
		}
		fmt.Fprintf(w, `{"operationType":"MIGRATE_PROCESS_INSTANCE","batchOperationKey":%q,"itemKey":"%d","processInstanceKey":"%d",`+
			`"state":%q,"processedDate":%s,"errorMessage":null}`+"\n",
			loadBigOp, 2251799813700000+i, 2251799813900000+i, itemStates[(i+variant*2)%len(itemStates)], date)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// latencies collects request durations of one kind of query.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) summary() (n int, p50, p99, maxd time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0, 0, 0, 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return len(s), s[len(s)/2], s[len(s)*99/100], s[len(s)-1]
}

// descOrder checks that rows are sorted by date DESC (null first) and then
// by key DESC (the tie-break follows the last orderBy direction), without
// duplicate keys.
func descOrder(dates []*string, keys []string) error {
	seen := map[string]bool{}
	for i := range keys {
		if seen[keys[i]] {
			return fmt.Errorf("key %s twice in one page", keys[i])
		}
		seen[keys[i]] = true
		if i == 0 {
			continue
		}
		a, b := dates[i-1], dates[i]
		var cmp int
		switch {
		case a == nil && b == nil:
		case a == nil:
			cmp = 1 // null sorts first under DESC
		case b == nil:
			cmp = -1
		default:
			ta, _ := time.Parse(time.RFC3339Nano, *a)
			tb, _ := time.Parse(time.RFC3339Nano, *b)
			cmp = ta.Compare(tb)
		}
		if cmp == 0 {
			ka, _ := strconv.ParseInt(keys[i-1], 10, 64)
			kb, _ := strconv.ParseInt(keys[i], 10, 64)
			if ka < kb {
				return fmt.Errorf("rows %d and %d: equal dates, keys %s then %s are not DESC", i-1, i, keys[i-1], keys[i])
			}
		} else if cmp < 0 {
			return fmt.Errorf("rows %d and %d: dates %v then %v are not DESC", i-1, i, deref(a), deref(b))
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

const (
	loadQ1 = `query Q1 { batchOperations(first: 50, filter: {state: {in: [ACTIVE, SUSPENDED]}}, orderBy: [{field: START_DATE, direction: DESC}]) {
		totalCount nodes { batchOperationKey state startDate } } }`
	loadQ2 = `query Q2($key: ID!, $after: String) { batchOperation(batchOperationKey: $key) {
		items(first: 100, after: $after, filter: {state: {eq: FAILED}}, orderBy: [{field: PROCESSED_DATE, direction: DESC}]) {
			totalCount edges { cursor node { itemKey state processedDate } } pageInfo { hasNextPage endCursor } } } }`
)

type loadResp struct {
	Data struct {
		BatchOperations struct {
			TotalCount int
			Nodes      []struct {
				BatchOperationKey string
				State             string
				StartDate         *string
			}
		}
		BatchOperation struct {
			Items struct {
				TotalCount int
				Edges      []struct {
					Cursor string
					Node   struct {
						ItemKey       string
						State         string
						ProcessedDate *string
					}
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
	}
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
}

// N GraphQL clients against the real router (httptest) while imports
// rewrite every record again and again: no transport errors, no 5xx, no
// GraphQL errors, every page sorted, without duplicates and consistent with
// its totalCount. Latencies are logged; the long variant also requires every
// request to finish within 1s (a stall detector):
//
//	go test -run TestLoadWithConcurrentWrites -load.long -timeout 30m ./web/
func TestLoadWithConcurrentWrites(t *testing.T) {
	duration, items := 5*time.Second, 40_000
	if *loadLong {
		duration, items = 60*time.Second, 500_000
	}
	if *loadDuration > 0 {
		duration = *loadDuration
	}
	if *loadItems > 0 {
		items = *loadItems
	}
	dir := t.TempDir()
	files := [2]string{filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.ndjson")}
	for v, f := range files {
		writeLoadFile(t, f, items, v)
	}
	store, err := storage.Open(filepath.Join(dir, "load.db"), storage.Options{})
	require.NoError(t, err)
	defer store.Close()
	ctx := context.Background()
	_, err = importer.File(ctx, store, files[0], importer.Options{})
	require.NoError(t, err)

	srv := httptest.NewServer(NewRouter(store, graph.Config{}, nil, slog.New(slog.DiscardHandler), Options{}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *loadClients}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	deadline := time.Now().Add(duration)
	var (
		wg                                      sync.WaitGroup
		imports, importErrs                     atomic.Int64
		requests, transportErrs, status5xx      atomic.Int64
		gqlErrs, internalErrs, pages, q2Resumed atomic.Int64
		lat                                     = map[string]*latencies{"Q1": {}, "Q2": {}}
		failMu                                  sync.Mutex
		failures                                []string
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}

	wg.Add(1)
	go func() { // the writer: imports the variants in turn until the clients stop
		defer wg.Done()
		for v := 1; time.Now().Before(deadline); v++ {
			if _, err := importer.File(ctx, store, files[v%2], importer.Options{}); err != nil {
				importErrs.Add(1)
				fail("import: %v", err)
				return
			}
			imports.Add(1)
		}
	}()

	post := func(kind, query string, vars map[string]any) (*loadResp, bool) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		start := time.Now()
		resp, err := client.Post(srv.URL+"/query", "application/json", bytes.NewReader(body))
		requests.Add(1)
		if err != nil {
			transportErrs.Add(1)
			fail("%s: %v", kind, err)
			return nil, false
		}
		defer resp.Body.Close()
		var r loadResp
		derr := json.NewDecoder(resp.Body).Decode(&r)
		lat[kind].add(time.Since(start))
		if resp.StatusCode >= 500 {
			status5xx.Add(1)
			fail("%s: HTTP %d", kind, resp.StatusCode)
			return nil, false
		}
		if derr != nil {
			transportErrs.Add(1)
			fail("%s: body: %v", kind, derr)
			return nil, false
		}
		for _, e := range r.Errors {
			gqlErrs.Add(1)
			if e.Extensions["code"] == "INTERNAL_SERVER_ERROR" {
				internalErrs.Add(1)
			}
			fail("%s: %s (%v)", kind, e.Message, e.Extensions["code"])
		}
		pages.Add(1)
		return &r, len(r.Errors) == 0
	}

	q1 := func() {
		r, ok := post("Q1", loadQ1, nil)
		if !ok {
			return
		}
		c := r.Data.BatchOperations
		keys := make([]string, len(c.Nodes))
		dates := make([]*string, len(c.Nodes))
		for i, n := range c.Nodes {
			keys[i], dates[i] = n.BatchOperationKey, n.StartDate
			if n.State != "ACTIVE" && n.State != "SUSPENDED" {
				fail("Q1: state %s", n.State)
			}
		}
		if len(c.Nodes) > 50 || len(c.Nodes) > c.TotalCount || len(c.Nodes) < min(50, c.TotalCount) {
			fail("Q1: %d nodes, totalCount %d", len(c.Nodes), c.TotalCount)
		}
		if err := descOrder(dates, keys); err != nil {
			fail("Q1: %v", err)
		}
	}
	// q2 pages through the big operation's FAILED items (at most 20 pages
	// a pass, then starts again).
	q2 := func() {
		var after any
		for range 20 {
			r, ok := post("Q2", loadQ2, map[string]any{"key": loadBigOp, "after": after})
			if !ok {
				return
			}
			c := r.Data.BatchOperation.Items
			keys := make([]string, len(c.Edges))
			dates := make([]*string, len(c.Edges))
			for i, e := range c.Edges {
				keys[i], dates[i] = e.Node.ItemKey, e.Node.ProcessedDate
				if e.Node.State != "FAILED" {
					fail("Q2: item %s is %s", e.Node.ItemKey, e.Node.State)
				}
				if e.Cursor == "" {
					fail("Q2: empty cursor")
				}
			}
			if len(c.Edges) > 100 || len(c.Edges) > c.TotalCount {
				fail("Q2: %d edges, totalCount %d", len(c.Edges), c.TotalCount)
			}
			if c.PageInfo.HasNextPage && len(c.Edges) < 100 {
				fail("Q2: hasNextPage with a short page of %d", len(c.Edges))
			}
			if n := len(c.Edges); n > 0 && (c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[n-1].Cursor) {
				fail("Q2: endCursor is not the last edge's cursor")
			}
			if err := descOrder(dates, keys); err != nil {
				fail("Q2: %v", err)
			}
			if !c.PageInfo.HasNextPage || time.Now().After(deadline) {
				return
			}
			after = *c.PageInfo.EndCursor
			q2Resumed.Add(1)
		}
	}
	for i := range *loadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if i%2 == 0 {
					q1()
				} else {
					q2()
				}
			}
		}()
	}
	wg.Wait()

	var maxLat time.Duration
	for _, k := range []string{"Q1", "Q2"} {
		n, p50, p99, mx := lat[k].summary()
		maxLat = max(maxLat, mx)
		t.Logf("%s: %6d requests, p50 %6s, p99 %6s, max %6s", k, n, p50.Round(time.Microsecond), p99.Round(time.Microsecond), mx.Round(time.Microsecond))
	}
	t.Logf("%d clients for %s over %d items: %d requests (%.0f/s), %d Q2 pages fetched with a cursor, %d imports of %d records each rewrote every record",
		*loadClients, duration, items, requests.Load(), float64(requests.Load())/duration.Seconds(), q2Resumed.Load(), imports.Load(), loadOps+items)
	t.Logf("transport errors %d, 5xx %d, GraphQL errors %d (internal %d), import errors %d",
		transportErrs.Load(), status5xx.Load(), gqlErrs.Load(), internalErrs.Load(), importErrs.Load())
	for _, f := range failures {
		t.Error(f)
	}
	assert.Zero(t, transportErrs.Load(), "transport errors")
	assert.Zero(t, status5xx.Load(), "5xx responses")
	assert.Zero(t, gqlErrs.Load(), "GraphQL errors")
	assert.Zero(t, internalErrs.Load(), "INTERNAL_SERVER_ERROR")
	assert.Zero(t, importErrs.Load())
	assert.Positive(t, imports.Load(), "an import ran during the load")
	assert.Positive(t, pages.Load())
	if *loadLong {
		assert.Less(t, maxLat, time.Second, "max latency (stall detector)")
	}
	require.NoError(t, store.Verify(ctx))
}
