package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
)

const testImportToken = "s3cret-import-token"

// importServer runs the real router over a fresh database with /import
// enabled by imp (nil: disabled).
func importServer(t testing.TB, imp *ImportOptions) (*httptest.Server, *storage.Store) {
	t.Helper()
	store, err := storage.Open(filepath.Join(t.TempDir(), "imp.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(NewRouter(store, graph.Config{MaxPageSize: 1000}, nil, slog.New(slog.DiscardHandler), Options{Import: imp}))
	t.Cleanup(srv.Close)
	return srv, store
}

type importReply struct {
	status int
	header http.Header
	body   string
}

// postImport sends body to /import; token "" sends no Authorization.
// chunked hides the length (as a pipe does).
func postImport(t testing.TB, srv *httptest.Server, token, contentType, body string, chunked bool) importReply {
	t.Helper()
	var r io.Reader = strings.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // not a *strings.Reader: no Content-Length
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/import", r)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return importReply{resp.StatusCode, resp.Header, string(b)}
}

// dbDigest hashes every bucket's keys and values.
func dbDigest(t testing.TB, s *storage.Store) string {
	t.Helper()
	h := sha256.New()
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			fmt.Fprintf(h, "bucket %q\n", name)
			return b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(h, "%x=%x\n", k, v)
				return nil
			})
		})
	}))
	return hex.EncodeToString(h.Sum(nil))
}

func testOp(key string) string {
	return `{"batchOperationKey":"` + key + `","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`
}

func testItem(op string, n int) string {
	return fmt.Sprintf(`{"batchOperationKey":"%s","itemKey":"%d","processInstanceKey":"%d","operationType":"CANCEL_PROCESS_INSTANCE","state":"COMPLETED","processedDate":"2025-06-05T08:01:13.104Z"}`, op, n, n)
}

func counts(n, u, c int64) *importer.KindCounts {
	return &importer.KindCounts{New: n, Updated: u, Unchanged: c}
}

func TestImportEndpoint(t *testing.T) {
	fixture := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "importer", "testdata", "import", name))
		require.NoError(t, err)
		return string(b)
	}
	seed := testOp("1")
	type want struct {
		status   int
		kinds    map[string]*importer.KindCounts // 200: the non-zero kinds
		warnings []string                        // 200: substrings, one per warning
		errMsg   string                          // else: substring of "error"
		bad      *ImportError                    // 400: where
	}
	for _, c := range []struct {
		name, token, ctype, body string
		chunked                  bool
		want                     want
	}{
		{"JSON array", testImportToken, "application/json", "[" + testOp("2") + "," + testOp("3") + "]", false,
			want{status: 200, kinds: map[string]*importer.KindCounts{importer.KindBatchOperation: counts(2, 0, 0)}}},
		{"NDJSON, streamed", testImportToken, "application/x-ndjson", fixture("c8_items.ndjson"), true,
			want{status: 200, kinds: map[string]*importer.KindCounts{importer.KindItem: counts(5, 0, 0)}}},
		{"the same record again is unchanged, a changed one updated", testImportToken, "application/json; charset=utf-8",
			seed + "\n" + strings.Replace(seed, "ACTIVE", "COMPLETED", 1), false,
			want{status: 200, kinds: map[string]*importer.KindCounts{importer.KindBatchOperation: counts(0, 1, 1)}}},
		{"Camunda 7 statistics", testImportToken, "application/json", fixture("c7_statistics.json"), false,
			want{status: 200, kinds: map[string]*importer.KindCounts{importer.KindBatchStats: counts(2, 0, 0)}}},
		{"search response, complete", testImportToken, "application/json", fixture("c8_operations_search.json"), false,
			want{status: 200, kinds: map[string]*importer.KindCounts{importer.KindBatchOperation: counts(2, 0, 0)}}},
		{"search response, partial page", testImportToken, "application/json",
			`{"items":[` + testOp("4") + `],"page":{"totalItems":120,"hasMoreTotalItems":false,"startCursor":"WyI0Il0=","endCursor":"WyI0Il0="}}`, false,
			want{status: 200, kinds: map[string]*importer.KindCounts{importer.KindBatchOperation: counts(1, 0, 0)},
				warnings: []string{`holds 1 of page.totalItems 120 items`, `"after": "WyI0Il0="`}}},
		{"no Content-Type", testImportToken, "", testOp("5"), false,
			want{status: 200, kinds: map[string]*importer.KindCounts{importer.KindBatchOperation: counts(1, 0, 0)}}},

		{"missing token", "", "application/json", testOp("6"), false, want{status: 401, errMsg: "missing token"}},
		{"wrong token", "nope", "application/json", testOp("6"), false, want{status: 401, errMsg: "wrong token"}},
		{"token prefix", testImportToken[:5], "application/json", testOp("6"), false, want{status: 401, errMsg: "wrong token"}},

		{"bad enum, nothing written", testImportToken, "application/x-ndjson", testOp("7") + "\n" + strings.Replace(testOp("8"), "ACTIVE", "DONE", 1), false,
			want{status: 400, errMsg: `record 2 (line 2): field "state": value "DONE": unknown BatchOperationState`,
				bad: &ImportError{Record: 2, Line: 2, Field: "state", Value: `"DONE"`}}},
		{"malformed JSON", testImportToken, "application/json", "[" + testOp("7") + ",\n{", true,
			want{status: 400, errMsg: "record 2 (line 2): malformed JSON", bad: &ImportError{Record: 2, Line: 2}}},
		{"empty body", testImportToken, "application/json", "", false, want{status: 400, errMsg: "empty input: no records"}},
		{"empty body, streamed", testImportToken, "application/x-ndjson", "\n", true, want{status: 400, errMsg: "empty input: no records"}},
		{"Camunda 8 problem detail", testImportToken, "application/json",
			`{"type":"about:blank","title":"UNAUTHORIZED","status":401,"detail":"The request lacks valid credentials","instance":"/v2/batch-operations/search"}`, false,
			want{status: 400, errMsg: "the input is an error response from the engine, not records: 401 UNAUTHORIZED: The request lacks valid credentials"}},
		{"Camunda 7 error", testImportToken, "application/json",
			`{"type":"InvalidRequestException","message":"Batch with id 'nope' does not exist","code":null}`, false,
			want{status: 400, errMsg: "the input is an error response from the engine, not records: InvalidRequestException: Batch with id 'nope' does not exist"}},
		{"form Content-Type", testImportToken, "application/x-www-form-urlencoded", testOp("9"), false,
			want{status: 415, errMsg: "send application/json or application/x-ndjson"}},
		{"over the limit", testImportToken, "application/x-ndjson", strings.Repeat(testOp("10")+"\n", 100), false,
			want{status: 413, errMsg: "larger than the server's --max-import-body (4096 bytes)"}},
		{"over the limit, streamed", testImportToken, "application/x-ndjson", strings.Repeat(testOp("10")+"\n", 100), true,
			want{status: 413, errMsg: "larger than the server's --max-import-body (4096 bytes)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, store := importServer(t, &ImportOptions{Token: testImportToken, MaxBody: 4096})
			r := postImport(t, srv, testImportToken, "application/json", seed, false)
			require.Equal(t, 200, r.status, r.body)
			before := dbDigest(t, store)

			r = postImport(t, srv, c.token, c.ctype, c.body, c.chunked)
			require.Equal(t, c.want.status, r.status, r.body)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			if c.want.status != 200 {
				var e ImportError
				require.NoError(t, json.Unmarshal([]byte(r.body), &e), r.body)
				assert.Contains(t, e.Error, c.want.errMsg)
				assert.Equal(t, before, dbDigest(t, store), "nothing written")
				if c.want.status == 401 {
					assert.Regexp(t, `^Bearer error="invalid_token"`, r.header.Get("WWW-Authenticate"))
				}
				if c.want.bad != nil {
					assert.Equal(t, c.want.bad.Record, e.Record)
					assert.Equal(t, c.want.bad.Line, e.Line)
					assert.Equal(t, c.want.bad.Field, e.Field)
					assert.Equal(t, c.want.bad.Value, e.Value)
					assert.NotEmpty(t, e.Reason)
				}
				return
			}
			var res ImportResult
			require.NoError(t, json.Unmarshal([]byte(r.body), &res), r.body)
			var n int64
			for k, kc := range res.Kinds {
				if *kc == (importer.KindCounts{}) {
					continue
				}
				assert.Equal(t, c.want.kinds[k], kc, k)
				n += kc.New + kc.Updated + kc.Unchanged
			}
			assert.Len(t, res.Kinds, 5, "every kind is reported")
			for k := range c.want.kinds {
				assert.Contains(t, res.Kinds, k)
			}
			assert.Equal(t, n, res.Records)
			assert.Contains(t, r.body, `"unchanged":`)
			assert.Contains(t, r.body, `"warnings":[`, "warnings is a list, empty included")
			require.Len(t, res.Warnings, min(len(c.want.warnings), 1))
			for _, w := range c.want.warnings {
				assert.Contains(t, res.Warnings[0], w)
			}
			assert.Greater(t, res.DatabaseBytes, int64(0))
			assert.NotEqual(t, before, dbDigest(t, store), "written")
		})
	}
}

func TestImportEndpointDisabled(t *testing.T) {
	for name, imp := range map[string]*ImportOptions{"nil": nil, "no token": {MaxBody: 1 << 20}} {
		t.Run(name, func(t *testing.T) {
			srv, store := importServer(t, imp)
			before := dbDigest(t, store)
			r := postImport(t, srv, testImportToken, "application/json", testOp("1"), false)
			assert.Equal(t, http.StatusNotFound, r.status, r.body)
			assert.Equal(t, before, dbDigest(t, store))
		})
	}
	srv, _ := importServer(t, &ImportOptions{Token: testImportToken})
	resp, err := srv.Client().Get(srv.URL + "/import")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestImportEndpointGuard: a Guard (auth's, in serve) replaces the token
// check, and Observe sees every import's outcome.
func TestImportEndpointGuard(t *testing.T) {
	var mu sync.Mutex
	var seen []error
	guard := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer jwt-with-import-scope" {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	srv, _ := importServer(t, &ImportOptions{Guard: guard, Observe: func(st *importer.Stats, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			assert.Equal(t, int64(1), st.Kinds[importer.KindBatchOperation].New)
		}
		seen = append(seen, err)
	}})
	assert.Equal(t, http.StatusForbidden, postImport(t, srv, "jwt-without", "application/json", testOp("1"), false).status)
	assert.Equal(t, http.StatusOK, postImport(t, srv, "jwt-with-import-scope", "application/json", testOp("1"), false).status)
	assert.Equal(t, http.StatusBadRequest, postImport(t, srv, "jwt-with-import-scope", "application/json", `{}`, false).status)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	assert.NoError(t, seen[0])
	var ie *importer.Error
	assert.ErrorAs(t, seen[1], &ie)
}

// TestImportEndpointConcurrentWithQueries: imports run while queries read
// the same operation's items; every page is consistent with its totalCount
// (a page is read in one transaction), and totals never go down.
func TestImportEndpointConcurrentWithQueries(t *testing.T) {
	// small write transactions, so that the readers see many states
	srv, _ := importServer(t, &ImportOptions{Token: testImportToken, BatchSize: 200})
	require.Equal(t, 200, postImport(t, srv, testImportToken, "application/json", testOp("77"), false).status)

	const importers, perImport, readers = 4, 3000, 4
	bodies := make([]string, importers)
	for i := range bodies {
		var b strings.Builder
		for n := range perImport {
			b.WriteString(testItem("77", i*perImport+n+1))
			b.WriteByte('\n')
		}
		bodies[i] = b.String()
	}
	query := func(q string) map[string]any {
		body, _ := json.Marshal(map[string]any{"query": q})
		resp, err := srv.Client().Post(srv.URL+"/query", "application/json", bytes.NewReader(body))
		if !assert.NoError(t, err) {
			return nil
		}
		defer resp.Body.Close()
		var out struct {
			Data   map[string]any
			Errors []any
		}
		assert.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		assert.Empty(t, out.Errors)
		return out.Data
	}

	done := make(chan struct{})
	var wg, rg sync.WaitGroup
	var pages int
	var mu sync.Mutex
	for r := range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			last := 0.0
			q := `{ batchOperationItems(first: 500, filter: {batchOperationKey: {eq: "77"}}) { totalCount nodes { itemKey } } }`
			if r%2 == 1 {
				q = `{ batchOperationItems(last: 500, filter: {batchOperationKey: {eq: "77"}}) { totalCount nodes { itemKey } } }`
			}
			for {
				select {
				case <-done:
					return
				default:
				}
				data := query(q)
				if data == nil {
					return
				}
				conn := data["batchOperationItems"].(map[string]any)
				total := conn["totalCount"].(float64)
				nodes := len(conn["nodes"].([]any))
				assert.Equal(t, min(500, int(total)), nodes, "a page holds min(first, totalCount) nodes")
				assert.GreaterOrEqual(t, total, last, "totals never go down")
				last = total
				mu.Lock()
				pages++
				mu.Unlock()
			}
		}()
	}
	for i := range importers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := postImport(t, srv, testImportToken, "application/x-ndjson", bodies[i], i%2 == 0)
			if assert.Equal(t, 200, r.status, r.body) {
				var res ImportResult
				assert.NoError(t, json.Unmarshal([]byte(r.body), &res))
				assert.Equal(t, counts(perImport, 0, 0), res.Kinds[importer.KindItem])
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	data := query(`{ batchOperationItems(first: 1, filter: {batchOperationKey: {eq: "77"}}) { totalCount } }`)
	assert.Equal(t, float64(importers*perImport), data["batchOperationItems"].(map[string]any)["totalCount"])
	t.Logf("%d pages read during the imports", pages)
	assert.Positive(t, pages)
}
