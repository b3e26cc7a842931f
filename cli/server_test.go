package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/batchql/batchql/storage"
)

// binPath is the batchql binary built once by TestMain.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "batchql-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "batchql")
	build := exec.Command("go", "build", "-o", binPath, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building batchql:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cmdEnv is the test process's environment without BATCHQL_* variables,
// plus extra.
func cmdEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATCHQL_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// batchql runs the binary to completion.
func batchql(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	return batchqlIn(t, "", env, stdin, args...)
}

// batchqlIn runs the binary to completion in the working directory dir.
func batchqlIn(t *testing.T, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	cmd.Env = cmdEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.Truef(t, ok, "running batchql %v: %v", args, err)
		r.code = ee.ExitCode()
	}
	return r
}

// syncBuffer collects a process's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(line)
	s.b.WriteByte('\n')
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{}
	code int
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer runs "batchql serve --addr 127.0.0.1:0 args..." and waits for
// its "listening" log line.
func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	return startServerIn(t, "", env, args...)
}

// startServerIn is startServer in the working directory dir.
func startServerIn(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = cmdEnv(env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{t: t, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.add(line)
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
		s.code = cmd.ProcessState.ExitCode()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop() })
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.done:
		t.Fatalf("server exited with %d before listening:\n%s", s.code, s.logs)
	case <-time.After(45 * time.Second):
		t.Fatalf("server did not start listening:\n%s", s.logs)
	}
	return s
}

// stop sends SIGTERM and returns the exit code.
func (s *server) stop() int {
	select {
	case <-s.done:
		return s.code
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("server did not stop on SIGTERM:\n%s", s.logs)
	}
	return s.code
}

func (s *server) get(path string) (*http.Response, string) {
	s.t.Helper()
	resp, err := http.Get(s.url + path)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp, string(b)
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (s *server) query(query, operationName string, out any) gqlResponse {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": operationName})
	resp, err := http.Post(s.url+"/query", "application/json", bytes.NewReader(body))
	require.NoError(s.t, err)
	defer resp.Body.Close()
	require.Equal(s.t, http.StatusOK, resp.StatusCode)
	var r gqlResponse
	require.NoError(s.t, json.NewDecoder(resp.Body).Decode(&r))
	require.Empty(s.t, r.Errors)
	if out != nil {
		require.NoError(s.t, json.Unmarshal(r.Data, out))
	}
	return r
}

type opsPage struct {
	BatchOperations struct {
		TotalCount int `json:"totalCount"`
		Nodes      []struct {
			BatchOperationKey string `json:"batchOperationKey"`
		} `json:"nodes"`
	} `json:"batchOperations"`
}

const opsQuery = `query FirstOps { batchOperations(first: 5) { totalCount nodes { batchOperationKey } } }`

// dbState fingerprints a database: a hash over every bucket's keys and
// values, and the record counters.
func dbState(t *testing.T, path string) (string, map[string]int64) {
	t.Helper()
	s, err := storage.Open(path, storage.Options{ReadOnly: true, Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer s.Close()
	h := sha256.New()
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			fmt.Fprintf(h, "%s/%x=%x;", prefix, k, v)
			if v == nil {
				if child := b.Bucket(k); child != nil {
					return walk(prefix+"/"+string(k), child)
				}
			}
			return nil
		})
	}
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name), b) })
	}))
	var counts map[string]int64
	require.NoError(t, s.View(context.Background(), func(r *storage.Reader) error {
		counts = r.Counters()
		return nil
	}))
	return hex.EncodeToString(h.Sum(nil)), counts
}

func TestServeDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	srv := startServer(t, nil, "--db", db, "--demo", "--lock-timeout", "5s")

	resp, body := srv.get("/healthz")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"status":"ok"}`, body)

	var page opsPage
	srv.query(opsQuery, "FirstOps", &page)
	assert.Greater(t, page.BatchOperations.TotalCount, 5)
	assert.Len(t, page.BatchOperations.Nodes, 5)

	// GET /query works too and logs its operationName.
	resp, body = srv.get("/query?" + url.Values{"query": {`query Count { batchOperations { totalCount } }`}, "operationName": {"Count"}}.Encode())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, fmt.Sprintf(`"totalCount":%d`, page.BatchOperations.TotalCount))

	resp, body = srv.get("/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, strings.ToLower(body), "graphiql")
	assert.Contains(t, body, `/query`)

	resp, _ = srv.get("/no-such-page")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// A second process on the same database fails at once, clearly.
	bad := filepath.Join(t.TempDir(), "x.json")
	require.NoError(t, os.WriteFile(bad, []byte(`[]`), 0o600))
	r := batchql(t, nil, "", "import", "--db", db, "--lock-timeout", "200ms", bad)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "in use by another process")
	assert.Contains(t, r.stderr, db)
	assert.Less(t, r.elapsed, 10*time.Second)
	r = batchql(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--db", db, "--lock-timeout", "200ms")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "in use by another process")

	// Request log lines carry method, path, status and the operation name.
	assert.Eventually(t, func() bool {
		l := srv.logs.String()
		return strings.Contains(l, `method=POST path=/query status=200`) &&
			strings.Contains(l, "operation=FirstOps") && strings.Contains(l, "operation=Count")
	}, 5*time.Second, 50*time.Millisecond, srv.logs.String())
	assert.Contains(t, srv.logs.String(), "demo: done")

	// Graceful shutdown releases the lock.
	assert.Equal(t, 0, srv.stop(), srv.logs.String())
	assert.Contains(t, srv.logs.String(), "msg=stopped")
	_, counts := dbState(t, db)
	assert.EqualValues(t, page.BatchOperations.TotalCount, counts["o"])

	// --demo leaves a non-empty database alone.
	srv = startServer(t, nil, "--db", db, "--demo")
	assert.Contains(t, srv.logs.String(), "not empty")
	var again opsPage
	srv.query(opsQuery, "FirstOps", &again)
	assert.Equal(t, page, again)
	assert.Equal(t, 0, srv.stop())
}

func TestServeEnvAndFlags(t *testing.T) {
	dir := t.TempDir()
	// Env vars configure the server; the playground can be switched off.
	srv := startServer(t, []string{"BATCHQL_DB=" + filepath.Join(dir, "env.db"), "BATCHQL_PLAYGROUND=false", "BATCHQL_LOG_LEVEL=debug"})
	resp, _ := srv.get("/")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = srv.get("/healthz")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	var page opsPage
	srv.query(opsQuery, "", &page)
	assert.Equal(t, 0, page.BatchOperations.TotalCount)
	assert.Empty(t, page.BatchOperations.Nodes)
	assert.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "path=/healthz") },
		5*time.Second, 50*time.Millisecond, "debug level logs /healthz")
	assert.Contains(t, srv.logs.String(), "playground=false")
	assert.Equal(t, 0, srv.stop())
	assert.FileExists(t, filepath.Join(dir, "env.db"))

	// A flag beats its env var.
	srv = startServer(t, []string{"BATCHQL_DB=" + filepath.Join(dir, "env2.db"), "BATCHQL_PLAYGROUND=false"}, "--db", filepath.Join(dir, "flag.db"), "--playground=true")
	resp, _ = srv.get("/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 0, srv.stop())
	assert.FileExists(t, filepath.Join(dir, "flag.db"))
	assert.NoFileExists(t, filepath.Join(dir, "env2.db"))

	// A bad env value is a clear usage error, as is a bad flag.
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"BATCHQL_MAX_PAGE_SIZE=lots"}, nil, "BATCHQL_MAX_PAGE_SIZE"},
		{[]string{"BATCHQL_INTROSPECTION=maybe"}, nil, "BATCHQL_INTROSPECTION"},
		{[]string{"BATCHQL_LOG_LEVEL=loud"}, nil, "must be debug, info, warn or error"},
		{[]string{"BATCHQL_LOCK_TIMEOUT=soon"}, nil, "BATCHQL_LOCK_TIMEOUT"},
		{nil, []string{"--max-page-size", "0"}, "must be at least 1"},
		{nil, []string{"--no-such-flag"}, "flag provided but not defined"},
		{nil, []string{"surplus"}, `unexpected argument "surplus"`},
	} {
		r := batchql(t, tc.env, "", append([]string{"serve", "--db", filepath.Join(dir, "never.db")}, tc.args...)...)
		assert.Equal(t, 2, r.code, "%v %v: %s", tc.env, tc.args, r.stderr)
		assert.Contains(t, r.stderr, tc.want)
	}
	assert.NoFileExists(t, filepath.Join(dir, "never.db"))

	// A flag as the first argument means serve.
	r := batchql(t, []string{"BATCHQL_MAX_PAGE_SIZE=x"}, "", "--db", filepath.Join(dir, "never.db"))
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "batchql serve: invalid value \"x\" for environment variable BATCHQL_MAX_PAGE_SIZE")
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Usage:", "serve", "import", "demo"}},
		{[]string{"help"}, []string{"Commands:"}},
		{[]string{"serve", "--help"}, []string{"Usage: batchql [serve]", "--addr", "BATCHQL_ADDR", "--db", "BATCHQL_DB",
			"--demo", "BATCHQL_DEMO", "--max-page-size", "BATCHQL_MAX_PAGE_SIZE", "--introspection", "BATCHQL_INTROSPECTION",
			"--playground", "BATCHQL_PLAYGROUND", "--log-level", "BATCHQL_LOG_LEVEL", "--lock-timeout", `default :8080`}},
		{[]string{"serve", "-h"}, []string{"Usage: batchql [serve]"}},
		{[]string{"help", "import"}, []string{"Usage: batchql import", "--db", "BATCHQL_DB", "--progress"}},
		{[]string{"import", "--help"}, []string{"Usage: batchql import", "NDJSON", "--batch-size"}},
		{[]string{"demo", "--help"}, []string{"Usage: batchql demo", "--batches", "--operations", "--items-per-operation", "--seed"}},
	} {
		r := batchql(t, nil, "", tc.args...)
		assert.Equal(t, 0, r.code, "%v: %s", tc.args, r.stderr)
		assert.Empty(t, r.stderr, tc.args)
		for _, w := range tc.want {
			assert.Contains(t, r.stdout, w, tc.args)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	r := batchql(t, nil, "", "frobnicate")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `unknown command "frobnicate"`)
	assert.Contains(t, r.stderr, "Usage:")
	assert.Empty(t, r.stdout)

	r = batchql(t, nil, "", "import")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "no files given")
	r = batchql(t, nil, "", "import", "--db", filepath.Join(t.TempDir(), "x.db"), "-", "-")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "standard input) may be given only once")
}

// Camunda 8 search responses and Camunda 7 REST arrays, as the engines send them.
const (
	c8Operations = `{"items":[
 {"batchOperationKey":"2251799813685249","state":"COMPLETED","batchOperationType":"CANCEL_PROCESS_INSTANCE",
  "startDate":"2025-06-04T11:13:43.123Z","endDate":"2025-06-04T11:14:01.5Z","actorType":"USER","actorId":"demo",
  "operationsTotalCount":2,"operationsFailedCount":0,"operationsCompletedCount":2,"errors":[]},
 {"batchOperationKey":"2251799813685250","state":"ACTIVE","batchOperationType":"MIGRATE_PROCESS_INSTANCE",
  "startDate":"2025-06-04T12:00:00.000Z","endDate":null,"actorType":null,"actorId":null,
  "operationsTotalCount":10,"operationsFailedCount":1,"operationsCompletedCount":3,
  "errors":[{"partitionId":2,"type":"QUERY_FAILED","message":"timeout"}]}
],"page":{"totalItems":2,"hasMoreTotalItems":false,"startCursor":null,"endCursor":null}}`
	c8Items = `{"operationType":"CANCEL_PROCESS_INSTANCE","batchOperationKey":"2251799813685249","itemKey":"2251799813690001","processInstanceKey":"2251799813690001","rootProcessInstanceKey":null,"state":"COMPLETED","processedDate":"2025-06-04T11:13:50.000Z","errorMessage":null}
{"operationType":"CANCEL_PROCESS_INSTANCE","batchOperationKey":"2251799813685249","itemKey":"2251799813690002","processInstanceKey":"2251799813690002","rootProcessInstanceKey":null,"state":"COMPLETED","processedDate":"2025-06-04T11:13:51.000Z","errorMessage":null}
`
	c7Batches = `[{"id":"0f3a1b2c-0000-11ef-9c1a-0242ac120002","type":"instance-migration","totalJobs":10,"jobsCreated":10,
  "batchJobsPerSeed":100,"invocationsPerBatchJob":1,"seedJobDefinitionId":"s1","monitorJobDefinitionId":"m1",
  "batchJobDefinitionId":"b1","suspended":false,"tenantId":null,"createUserId":"demo",
  "startTime":"2024-05-14T09:12:03.417+0200","executionStartTime":"2024-05-14T09:12:03.500+0200"}]`
	// The second record has an unknown state.
	c8BadItems = `{"operationType":"CANCEL_PROCESS_INSTANCE","batchOperationKey":"2251799813685249","itemKey":"2251799813690003","processInstanceKey":"2251799813690003","rootProcessInstanceKey":null,"state":"COMPLETED","processedDate":null,"errorMessage":null}
{"operationType":"CANCEL_PROCESS_INSTANCE","batchOperationKey":"2251799813685249","itemKey":"2251799813690004","processInstanceKey":"2251799813690004","rootProcessInstanceKey":null,"state":"EXPLODED","processedDate":null,"errorMessage":null}
`
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "import.db")
	ops := writeFile(t, dir, "ops.json", c8Operations)
	items := writeFile(t, dir, "items.ndjson", c8Items)

	r := batchql(t, nil, "", "import", "--db", db, ops, items)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, ops+": 2 records in ")
	assert.Contains(t, r.stdout, items+": 2 records in ")
	assert.Contains(t, r.stdout, "total: 4 records in ")
	assert.Contains(t, r.stdout, "records/s)")
	assert.Regexp(t, `(?m)^\s+\S.*\s2 new\s+0 updated\s+0 unchanged$`, r.stdout)
	assert.Contains(t, r.stdout, "database "+db)
	assert.NotContains(t, r.stderr, "\r", "no progress bar when stderr is not a terminal")

	// Standard input; importing the same records again leaves them unchanged.
	r = batchql(t, nil, c8Operations, "import", "--db", db, "-")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "<stdin>: 2 records in ")
	assert.Regexp(t, `(?m)^\s+\S.*\s0 new\s+0 updated\s+2 unchanged$`, r.stdout)

	// Env var for the database; Camunda 7.
	c7 := writeFile(t, dir, "batches.json", c7Batches)
	r = batchql(t, []string{"BATCHQL_DB=" + db}, "", "import", c7)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^\s+\S.*\s1 new\s+0 updated\s+0 unchanged$`, r.stdout)

	before, counts := dbState(t, db)
	assert.EqualValues(t, map[string]int64{"b": 1, "o": 2, "i": 2}, map[string]int64{"b": counts["b"], "o": counts["o"], "i": counts["i"]})

	// Bad input: exit 1, naming file, record, field and value; nothing written.
	bad := writeFile(t, dir, "bad.ndjson", c8BadItems)
	r = batchql(t, nil, "", "import", "--db", db, bad)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, bad)
	assert.Contains(t, r.stderr, "2")
	assert.Contains(t, r.stderr, "state")
	assert.Contains(t, r.stderr, "EXPLODED")
	assert.Contains(t, r.stderr, "nothing from "+bad+" was written")
	after, _ := dbState(t, db)
	assert.Equal(t, before, after, "a rejected file leaves the database unchanged")

	// Malformed JSON on stdin, and a missing file.
	r = batchql(t, nil, `{"items": [`, "import", "--db", db, "-")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "<stdin>")
	r = batchql(t, nil, "", "import", "--db", db, filepath.Join(dir, "missing.json"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "missing.json")
	after, _ = dbState(t, db)
	assert.Equal(t, before, after)

	// The progress bar can be forced on.
	r = batchql(t, nil, "", "import", "--db", db, "--progress", "always", ops)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "\r\x1b[K")
}

func TestDemoCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	r := batchql(t, []string{"BATCHQL_DB=" + db}, "", "demo", "--batches", "3", "--operations", "4", "--items-per-operation", "5", "--seed", "7")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "3 batches, 4 batch operations")
	assert.Contains(t, r.stdout, "(seed 7)")
	assert.Contains(t, r.stdout, "database "+db+": ")
	first, counts := dbState(t, db)
	assert.EqualValues(t, 3, counts["b"])
	assert.EqualValues(t, 4, counts["o"])
	assert.Positive(t, counts["i"])
	assert.Contains(t, r.stdout, fmt.Sprintf(" %d items", counts["i"]))

	// Deterministic for a seed: a second run into another file gives the same records.
	db2 := filepath.Join(dir, "demo2.db")
	r = batchql(t, nil, "", "demo", "--db", db2, "--batches", "3", "--operations", "4", "--items-per-operation", "5", "--seed", "7")
	require.Equal(t, 0, r.code, r.stderr)
	_, counts2 := dbState(t, db2)
	assert.Equal(t, counts, counts2)
	_ = first

	r = batchql(t, nil, "", "demo", "--db", db, "--batches", "-1")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "must be at least 0")
}

// In-process tests of the pieces the binary tests cannot see.

func TestRunInProcess(t *testing.T) {
	var out, errb bytes.Buffer
	std := Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}
	getenv := func(k string) string { return map[string]string{"BATCHQL_LOCK_TIMEOUT": "-1s"}[k] }
	assert.Equal(t, ExitUsage, Run(context.Background(), []string{"demo", "--db", filepath.Join(t.TempDir(), "x.db")}, std, getenv))
	assert.Contains(t, errb.String(), "--lock-timeout must be positive")

	out.Reset()
	errb.Reset()
	assert.Equal(t, ExitOK, Run(context.Background(), []string{"help", "demo"}, std, func(string) string { return "" }))
	assert.Contains(t, out.String(), "Usage: batchql demo")
	assert.Empty(t, errb.String())

	assert.Equal(t, ExitUsage, Run(context.Background(), []string{"help", "nope"}, std, func(string) string { return "" }))
	assert.Contains(t, errb.String(), `unknown command "nope"`)
}

// Without --db or BATCHQL_DB, the demo data goes into batchql-demo.db and
// real data into batchql.db: demo and serve --demo never write into the
// file import fills.
func TestDemoDatabaseIsSeparate(t *testing.T) {
	dir := t.TempDir()
	r := batchqlIn(t, dir, nil, "", "demo", "--batches", "2", "--operations", "3", "--items-per-operation", "2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "database batchql-demo.db: ")
	assert.FileExists(t, filepath.Join(dir, "batchql-demo.db"))
	assert.NoFileExists(t, filepath.Join(dir, "batchql.db"))

	// serve --demo serves that file (not empty, so left alone).
	srv := startServerIn(t, dir, nil, "--demo")
	assert.Contains(t, srv.logs.String(), "db=batchql-demo.db")
	assert.Contains(t, srv.logs.String(), "not empty")
	var page opsPage
	srv.query(opsQuery, "", &page)
	assert.Equal(t, 3, page.BatchOperations.TotalCount)
	assert.Equal(t, 0, srv.stop())
	assert.NoFileExists(t, filepath.Join(dir, "batchql.db"))

	// import and serve without --demo use batchql.db.
	ops := writeFile(t, dir, "ops.json", c8Operations)
	r = batchqlIn(t, dir, nil, "", "import", ops)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "database batchql.db: ")
	srv = startServerIn(t, dir, nil)
	assert.Contains(t, srv.logs.String(), "db=batchql.db")
	srv.query(opsQuery, "", &page)
	assert.Equal(t, 2, page.BatchOperations.TotalCount)
	assert.Equal(t, 0, srv.stop())
	_, counts := dbState(t, filepath.Join(dir, "batchql-demo.db"))
	assert.EqualValues(t, 3, counts["o"], "the demo file is untouched")

	// serve --demo in an empty directory fills batchql-demo.db.
	fresh := t.TempDir()
	srv = startServerIn(t, fresh, nil, "--demo")
	assert.Contains(t, srv.logs.String(), "demo: done")
	assert.Equal(t, 0, srv.stop())
	assert.FileExists(t, filepath.Join(fresh, "batchql-demo.db"))
	assert.NoFileExists(t, filepath.Join(fresh, "batchql.db"))

	// --db and BATCHQL_DB still choose the file.
	mine := filepath.Join(fresh, "mine.db")
	srv = startServerIn(t, fresh, []string{"BATCHQL_DB=" + mine}, "--demo")
	assert.Contains(t, srv.logs.String(), "db="+mine)
	assert.Equal(t, 0, srv.stop())
	r = batchqlIn(t, fresh, nil, "", "demo", "--db", "other.db", "--batches", "1", "--operations", "1", "--items-per-operation", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.FileExists(t, filepath.Join(fresh, "other.db"))

	// --help says so.
	for _, cmd := range []string{"serve", "demo"} {
		r = batchql(t, nil, "", cmd, "--help")
		assert.Contains(t, r.stdout, "batchql-demo.db", cmd)
	}
}
