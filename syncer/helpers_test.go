package syncer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
)

// env is a syncer against the engine fakes, writing to a real bbolt file,
// with the real GraphQL handler over the same store.
type env struct {
	t      testing.TB
	c8     *enginefake.Camunda8
	c7     *enginefake.Camunda7
	c8srv  *httptest.Server
	c7srv  *httptest.Server
	store  *storage.Store
	sy     *syncer.Syncer
	gql    http.Handler
	cancel context.CancelFunc
	done   chan struct{}
}

type envOpts struct {
	cfg    syncer.Config // URLs and intervals are filled in when empty
	c8, c7 []enginefake.Option
	no7    bool
	no8    bool
	dbPath string
	// setup changes the configuration once the fakes' URLs are known.
	setup func(e *env, cfg *syncer.Config)
	// wrap, when set, wraps the store's Applier; wrap8 the Camunda 8
	// fake's handler.
	wrap  func(syncer.Applier) syncer.Applier
	wrap8 func(http.Handler) http.Handler
}

// testConfig polls fast; the full reconciliation only at start.
func testConfig() syncer.Config {
	return syncer.Config{Interval: 20 * time.Millisecond, FullInterval: time.Hour, Timeout: 2 * time.Second,
		Backoff: 5 * time.Millisecond, MaxWait: 2 * time.Second}
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, c8: enginefake.NewCamunda8(o.c8...), c7: enginefake.NewCamunda7(o.c7...)}
	var h8 http.Handler = e.c8
	if o.wrap8 != nil {
		h8 = o.wrap8(h8)
	}
	e.c8srv = httptest.NewServer(h8)
	e.c7srv = httptest.NewServer(e.c7)
	t.Cleanup(e.c8srv.Close)
	t.Cleanup(e.c7srv.Close)
	path := o.dbPath
	if path == "" {
		path = filepath.Join(t.TempDir(), "sync.db")
	}
	var err error
	e.store, err = storage.Open(path, storage.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { e.store.Close() })
	cfg := o.cfg
	if cfg.Interval == 0 {
		tc := testConfig()
		tc.Camunda8, tc.Camunda7, tc.HTTPClient, tc.Attempts = cfg.Camunda8, cfg.Camunda7, cfg.HTTPClient, cfg.Attempts
		cfg = tc
	}
	if cfg.Camunda8 == nil && !o.no8 {
		cfg.Camunda8 = &syncer.Camunda8Config{}
	}
	if cfg.Camunda8 != nil && cfg.Camunda8.URL == "" {
		cfg.Camunda8.URL = e.c8srv.URL + "/v2"
	}
	if cfg.Camunda7 == nil && !o.no7 {
		cfg.Camunda7 = &syncer.Camunda7Config{}
	}
	if cfg.Camunda7 != nil && cfg.Camunda7.URL == "" {
		cfg.Camunda7.URL = e.c7srv.URL + "/engine-rest"
	}
	if o.setup != nil {
		o.setup(e, &cfg)
	}
	var a syncer.Applier = &syncer.StoreApplier{Store: e.store, TxSize: 100}
	if o.wrap != nil {
		a = o.wrap(a)
	}
	e.sy, err = syncer.New(cfg, a)
	require.NoError(t, err)
	e.gql = graph.NewHandler(e.store, graph.Config{SyncStatus: e.sy.Status}, nil)
	return e
}

// run starts the syncer; it stops at the end of the test.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() { defer close(e.done); e.sy.Run(ctx) }()
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

// query runs a GraphQL query through the real handler and returns data.
func (e *env) query(q string) map[string]any {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q})
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.gql.ServeHTTP(rec, req)
	require.Equal(e.t, http.StatusOK, rec.Code, rec.Body.String())
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Empty(e.t, out.Errors, rec.Body.String())
	return out.Data
}

// status returns the source of engine.
func (e *env) status(engine syncer.Engine) syncer.Status {
	for _, st := range e.sy.Status() {
		if st.Engine == engine {
			return st
		}
	}
	e.t.Fatalf("no source %s", engine)
	return syncer.Status{}
}

// eventually polls cond until it holds; the deadline is generous (the
// contract's bound is 2 intervals; this only guards against hangs).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 60s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// opState is an operation as GraphQL serves it and as the fake has it.
type opState struct {
	Key, State               string
	Total, Completed, Failed int
	HasEnd                   bool
	Items                    string // itemKey=state,... in itemKey order
}

func (e *env) graphOp(key string) *opState {
	var items []string
	var op map[string]any
	after := "null"
	for {
		d := e.query(`{ batchOperation(batchOperationKey: "` + key + `") { batchOperationKey state endDate
			operationsTotalCount operationsCompletedCount operationsFailedCount
			items(first: 1000, after: ` + after + `) { nodes { itemKey state } pageInfo { hasNextPage endCursor } } } }`)
		op, _ = d["batchOperation"].(map[string]any)
		if op == nil {
			return nil
		}
		conn := op["items"].(map[string]any)
		for _, n := range conn["nodes"].([]any) {
			m := n.(map[string]any)
			items = append(items, m["itemKey"].(string)+"="+m["state"].(string))
		}
		pi := conn["pageInfo"].(map[string]any)
		if pi["hasNextPage"] != true {
			break
		}
		after = strconv.Quote(pi["endCursor"].(string))
	}
	return &opState{Key: op["batchOperationKey"].(string), State: op["state"].(string),
		Total: int(op["operationsTotalCount"].(float64)), Completed: int(op["operationsCompletedCount"].(float64)),
		Failed: int(op["operationsFailedCount"].(float64)), HasEnd: op["endDate"] != nil, Items: strings.Join(items, ",")}
}

func fakeOp(c8 *enginefake.Camunda8, key string) *opState {
	op, ok := c8.Operation(key)
	if !ok {
		return nil
	}
	var items []string
	for _, it := range c8.Items(key) {
		items = append(items, it.ItemKey+"="+it.State)
	}
	return &opState{Key: op.Key, State: op.State, Total: int(op.TotalCount), Completed: int(op.CompletedCount),
		Failed: int(op.FailedCount), HasEnd: op.EndDate != nil, Items: strings.Join(items, ",")}
}

// converged reports whether GraphQL serves each operation as the fake has it.
func (e *env) converged(keys ...string) bool {
	for _, k := range keys {
		g, f := e.graphOp(k), fakeOp(e.c8, k)
		if g == nil || f == nil || *g != *f {
			return false
		}
	}
	return true
}

// searches returns the fake's logged Camunda 8 search requests to path.
func searches(c8 *enginefake.Camunda8, path string) []map[string]any {
	var out []map[string]any
	for _, r := range c8.Requests() {
		if r.Path != path {
			continue
		}
		var body map[string]any
		_ = json.Unmarshal([]byte(r.Body), &body)
		out = append(out, body)
	}
	return out
}
