package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

// limitErr runs q and requires one COMPLEXITY_LIMIT_EXCEEDED error and no
// data, which it returns.
func (e *env) limitErr(q string, vars map[string]any) gqlError {
	e.t.Helper()
	r := e.post(map[string]any{"query": q, "variables": vars})
	require.Len(e.t, r.Errors, 1, "query %.200s: data %v", q, r.Data)
	require.Equal(e.t, CodeComplexityLimitExceeded, r.Errors[0].Code(), r.Errors[0].Message)
	assert.Nil(e.t, r.Data)
	return r.Errors[0]
}

// Every query of README.md costs less than 1,000 (as the README says) and
// passes the other default limits, as does GraphiQL's introspection query.
func TestDocumentedQueriesWithinLimits(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```graphql\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, blocks)
	e := newEnv(t, envOptions{cfg: Config{Introspection: true, MaxComplexity: 999}}, nil)
	importFixtures(t, e.store)
	vars := map[string]any{"key": opA, "id": globalid.Batch("1"), "after": nil}
	for _, b := range blocks {
		if strings.Contains(b[1], "other subgraph") {
			continue // a query for the federation gateway
		}
		r := e.post(map[string]any{"query": b[1], "variables": vars})
		assert.Empty(t, r.Errors, "README query:\n%s", b[1])
	}
	intro, err := os.ReadFile("testdata/introspection.graphql")
	require.NoError(t, err)
	r := e.post(map[string]any{"query": string(intro)})
	require.Empty(t, r.Errors)
	assert.NotEmpty(t, at(t, r.Data, "__schema", "types"))
}

// The cost of an operation: with a limit of 1, every query costing more
// reports its cost, so the rule can be checked number by number.
func TestQueryCost(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxComplexity: 1}}, fill)
	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
		cost  int
	}{
		{"page of 10 records", `{ batches(first: 10) { nodes { batchId type } } }`, nil, 10},
		{"edges and pageInfo", `{ batches(first: 10) { edges { cursor node { batchId } } pageInfo { hasNextPage } totalCount } }`, nil, 20},
		{"edges with cursors only", `{ batches(last: 3) { edges { cursor } } }`, nil, 3},
		{"default page size", `{ batchOperationItems { nodes { itemKey } } }`, nil, 20},
		{"edges and nodes both", `{ batchOperationItems(first: 5) { edges { node { itemKey } } nodes { itemKey } } }`, nil, 10},
		{"nested connections multiply", `{ batchOperations(first: 100) { nodes { items(first: 100) { nodes { itemKey batchOperation { state } } } } } }`, nil, 100 * (1 + 100*2)},
		{"first over the maximum is priced at it", `{ batches(first: 5000) { nodes { batchId } } }`, nil, 1000},
		{"variables", `query($n: Int) { batchOperations(first: $n) { nodes { state } } }`, map[string]any{"n": 7}, 7},
		{"aliases and fragments add up", `{ a: batches(first: 2) { ...F } b: batches(first: 3) { ...F } } fragment F on BatchConnection { nodes { batchId } }`, nil, 5},
		{"nodes(ids)", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{"a", "b", "c"}}, 3},
		{"a record and its statistics", `{ batch(batchId: "1") { batchId statistics { failedJobs } } }`, nil, 2},
		{"federation _entities", `query($r: [_Any!]!) { _entities(representations: $r) { ... on BatchOperation { items(first: 10) { nodes { itemKey } } } } }`,
			map[string]any{"r": []any{
				map[string]any{"__typename": "BatchOperation", "batchOperationKey": "1"},
				map[string]any{"__typename": "BatchOperation", "batchOperationKey": "2"},
				map[string]any{"__typename": "BatchOperation", "batchOperationKey": "3"},
			}}, 3 * (1 + 10)},
		{"interface fragments", `{ node(id: "x") { ... on BatchOperation { items(first: 4) { nodes { itemKey } } } } }`, nil, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := e.limitErr(c.query, c.vars)
			assert.Contains(t, err.Message, fmt.Sprintf("costs %d, more than the limit of 1", c.cost))
			assert.EqualValues(t, c.cost, err.Extensions["cost"])
			assert.EqualValues(t, 1, err.Extensions["limit"])
		})
	}
	// Costing 1 (a scalar-only page, one record) passes.
	e.query(`{ batches { totalCount } }`, nil)
	e.query(`{ batch(batchId: "1") { batchId } }`, nil)
}

func TestCostLimitDefault(t *testing.T) {
	e := fixtureEnv(t)
	// 100 × 100 items with their operation: about 20,000.
	e.query(`{ batchOperations(first: 100) { nodes { items(first: 100) { totalCount nodes { itemKey batchOperation { state } } } } } }`, nil)
	err := e.limitErr(`{ batchOperations(first: 1000) { nodes { items(first: 1000) { nodes { itemKey } } } } }`, nil)
	assert.Equal(t, `the query costs 1001000, more than the limit of 100000: a connection costs its page size (first or last, else 20) `+
		`and a list of ids its length, times the cost of what it selects per record, `+
		`so ask for smaller pages, fewer ids or fewer nested connections`, err.Message)
	// Out-of-range page sizes stay BAD_USER_INPUT naming the argument.
	assert.Equal(t, CodeBadUserInput, e.queryErr(`{ batches(first: 1000000) { nodes { batchId } } }`, nil).Code())
	assert.Equal(t, CodeBadUserInput, e.queryErr(`{ batches(last: -1) { nodes { batchId } } }`, nil).Code())
	// Many ids.
	ids := make([]string, 100_001)
	for i := range ids {
		ids[i] = "x"
	}
	err = e.limitErr(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids})
	assert.Contains(t, err.Message, "costs 100001")
}

// nest builds items → nodes → batchOperation chains: depth 1 + 3 per level.
func nest(levels int) string {
	q := "itemKey"
	for range levels {
		q = "batchOperation { items(first: 1) { nodes { " + q + " } } }"
	}
	return "{ batchOperationItems(first: 1) { nodes { " + q + " } } }"
}

func TestShapeLimits(t *testing.T) {
	e := fixtureEnv(t)
	repeat := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i))
			b.WriteByte(' ')
		}
		return b.String()
	}
	// depth: nest(n) is 3 + 3n deep
	e.query(nest(4), nil)
	assert.Contains(t, e.limitErr(nest(5), nil).Message, "is nested 18 levels deep, more than the limit of 15")
	assert.Contains(t, e.limitErr("query Deep { ...F } fragment F on Query "+nest(5), nil).Message,
		`operation "Deep" is nested 18 levels deep`)

	// root fields and aliases
	e.query("{ "+repeat(50, func(i int) string { return fmt.Sprintf("a%d: __typename", i) })+" }", nil)
	assert.Contains(t, e.limitErr("{ "+repeat(51, func(i int) string { return fmt.Sprintf("a%d: __typename", i) })+" }", nil).Message,
		"selects 51 root fields, more than the limit of 50")
	aliases := func(n int) string {
		return "{ batches(first: 1) { nodes { " + repeat(n, func(i int) string { return fmt.Sprintf("t%d: type", i) }) + " } } }"
	}
	e.query(aliases(500), nil)
	assert.Contains(t, e.limitErr(aliases(501), nil).Message, "uses 501 aliases, more than the limit of 500")

	// a response name repeated (quadratic to validate)
	e.query("{ batches { nodes { "+repeat(20, func(int) string { return "type" })+" } } }", nil)
	assert.Contains(t, e.limitErr("{ batches { nodes { "+repeat(21, func(int) string { return "type" })+" } } }", nil).Message,
		`"type" is selected 21 times in one selection set`)
	assert.Contains(t, e.limitErr("{ "+repeat(1000, func(i int) string { return fmt.Sprintf("x: batches(first: %d) { totalCount }", i) })+" }", nil).Message,
		`"x" is selected 21 times`)

	// fragments: 100 fine, 101 too many
	frags := func(n int) string {
		return "{ batches(first: 1) { nodes { " + repeat(n, func(i int) string { return fmt.Sprintf("...F%d", i) }) + " } } } " +
			repeat(n, func(i int) string { return fmt.Sprintf("fragment F%d on Batch { f%d: batchId }", i, i) })
	}
	e.query(frags(100), nil)
	assert.Contains(t, e.limitErr(frags(101), nil).Message, "defines 101 fragments, more than the limit of 100")

	// exponential fragments: each spreads the next twice
	var exp strings.Builder
	exp.WriteString("{ ...F0 }\n")
	for i := range 40 {
		fmt.Fprintf(&exp, "fragment F%d on Query { batches(first: 1) { nodes { batchId } } b%d: batches(first: 1) { nodes { ...F%d ...F%d } } }\n", i, i, i+1, i+1)
	}
	exp.WriteString("fragment F40 on Query { __typename }")
	start := time.Now()
	err := e.limitErr(exp.String(), nil)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Contains(t, err.Message, "more than the limit of")

	// cycles are left to validation
	r := e.post(map[string]any{"query": `{ ...A } fragment A on Query { batches { nodes { ...B } } } fragment B on Batch { ... on Batch { batchId } ...C } fragment C on Batch { ...B }`})
	require.Len(t, r.Errors, 1)
	assert.Equal(t, CodeValidationFailed, r.Errors[0].Code())
	assert.Contains(t, r.Errors[0].Message, "within itself")
}

func TestLimitsConfig(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxDepth: 2, MaxAliases: 1, MaxRootFields: 2, MaxComplexity: 50}}, fill)
	e.query(`{ a: batches(first: 50) { totalCount } __typename }`, nil)
	assert.Contains(t, e.limitErr(`{ batches { nodes { batchId } } }`, nil).Message, "nested 3 levels deep, more than the limit of 2")
	assert.Contains(t, e.limitErr(`{ a: __typename b: __typename }`, nil).Message, "uses 2 aliases, more than the limit of 1")
	assert.Contains(t, e.limitErr(`{ __typename batch(batchId: "1") { type } node(id: "x") { id } }`, nil).Message,
		"selects 3 root fields, more than the limit of 2")
	ids := make([]string, 51)
	assert.Contains(t, e.limitErr(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}).Message,
		"costs 51, more than the limit of 50")
}

// A persisted query is checked like any other: the limits run after APQ
// has looked the query up.
func TestLimitsApplyToPersistedQueries(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxAliases: 1}}, fill)
	q := `{ a: __typename b: __typename }`
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": apqHash(q)}}
	r := e.post(map[string]any{"query": q, "extensions": ext})
	require.Len(t, r.Errors, 1)
	assert.Equal(t, CodeComplexityLimitExceeded, r.Errors[0].Code())
}

func apqHash(q string) string {
	h := sha256.Sum256([]byte(q))
	return hex.EncodeToString(h[:])
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxBodyBytes: 1000}}, fill)
	small := `{"query":"{ __typename }"}`
	big := `{"query":"{ __typename }", "variables": {"pad": "` + strings.Repeat("x", 1000) + `"}}`
	for _, c := range []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"small", strings.NewReader(small), http.StatusOK},
		{"big, with Content-Length", strings.NewReader(big), http.StatusRequestEntityTooLarge},
		{"big, chunked", io.MultiReader(strings.NewReader(big)), http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.srv.URL, c.body)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			r := decodeResponse(t, resp)
			assert.Equal(t, c.status, r.Status)
			if c.status != http.StatusOK {
				require.Len(t, r.Errors, 1)
				assert.Equal(t, CodeBadUserInput, r.Errors[0].Code())
				assert.Equal(t, "the request body is larger than 1000 bytes", r.Errors[0].Message)
			}
		})
	}
}

// blockingRoot answers batches only when the request's context ends, with
// its error, as a storage scan does.
type blockingRoot struct{ *Resolver }

func (b blockingRoot) Query() generated.QueryResolver {
	return &blockingQuery{queryResolver(b)}
}

type blockingQuery struct{ queryResolver }

func (*blockingQuery) Batches(ctx context.Context, _ *int, _ *string, _ *int, _ *string, _ *storage.BatchFilter, _ []*model.BatchOrder) (*storage.Page[storage.Batch], error) {
	<-ctx.Done()
	return nil, storageError(fmt.Errorf("scan: %w", ctx.Err()))
}

func TestRequestTimeout(t *testing.T) {
	store, err := storage.Open(t.TempDir()+"/t.db", storage.Options{NoSync: true, InitialMmapSize: 1 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	cfg := Config{RequestTimeout: 50 * time.Millisecond}.withDefaults()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	h := withHTTPLimits(newServer(blockingRoot{&Resolver{store: store, cfg: cfg, log: log}}, cfg, log), cfg.MaxBodyBytes, cfg.RequestTimeout)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, store: store, srv: srv, logs: logs}

	start := time.Now()
	r := e.post(map[string]any{"query": `{ batches { totalCount } batch(batchId: "1") { batchId } }`})
	assert.Less(t, time.Since(start), 10*time.Second)
	require.Len(t, r.Errors, 1)
	assert.Equal(t, CodeComplexityLimitExceeded, r.Errors[0].Code())
	assert.Equal(t, "the request took longer than the server's limit of 50ms and was stopped: narrow the filters or ask for smaller pages",
		r.Errors[0].Message)
	assert.Equal(t, []any{"batches"}, r.Errors[0].Path)
	assert.Contains(t, logs.String(), "graphql request timed out")
	assert.NotContains(t, logs.String(), "graphql internal error")
}

// A request whose time is up before its operation runs (gqlgen then
// executes nothing) still gets a GraphQL response naming the limit.
func TestRequestTimeoutBeforeExecution(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{RequestTimeout: time.Nanosecond}}, fill)
	err := e.limitErr(`{ batches { totalCount } }`, nil)
	assert.Contains(t, err.Message, "the request took longer than the server's limit of 1ns")
}

// admit runs at most n requests at once; a request whose deadline passes
// while waiting gets a coded 503, and a freed slot admits the next.
func TestAdmit(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	h := admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNoContent)
	}), make(chan struct{}, 1))
	first := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/query", nil))
		first <- rec.Code
	}()
	<-started // the only slot is taken

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/query", nil).WithContext(ctx))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), CodeComplexityLimitExceeded)
	assert.Contains(t, rec.Body.String(), "busy")

	close(release)
	assert.Equal(t, http.StatusNoContent, <-first)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/query", nil))
	assert.Equal(t, http.StatusNoContent, rec.Code, "the freed slot admits the next request")
}
