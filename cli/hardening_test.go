package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

// demoDB writes a small demo database and returns its path.
func demoDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "demo.db")
	r := batchql(t, nil, "", "demo", "--db", db, "--batches", "40", "--operations", "30", "--items-per-operation", "40")
	require.Equal(t, 0, r.code, r.stderr)
	return db
}

// rawResponse is a /query response as the attack tests see it.
type rawResponse struct {
	status int
	body   []byte
	codes  []string // errors[].extensions.code
	hasData,
	validJSON bool
}

func (r rawResponse) String() string {
	codes := strings.Join(r.codes, ",")
	if codes == "" {
		codes = "no errors"
	}
	msg := ""
	var env struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(r.body, &env) == nil && len(env.Errors) > 0 {
		msg = env.Errors[0].Message
		if len(msg) > 120 {
			msg = msg[:120] + "…"
		}
		msg = ": " + msg
	}
	return fmt.Sprintf("HTTP %d, %s%s", r.status, codes, msg)
}

func decodeRaw(t *testing.T, resp *http.Response) rawResponse {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := rawResponse{status: resp.StatusCode, body: body}
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err == nil {
		r.validJSON = true
		r.hasData = len(env.Data) > 0 && string(env.Data) != "null"
		for _, e := range env.Errors {
			c, _ := e.Extensions["code"].(string)
			r.codes = append(r.codes, c)
		}
	}
	return r
}

func postBody(t *testing.T, base string, body io.Reader) rawResponse {
	t.Helper()
	resp, err := http.Post(base+"/query", "application/json", body)
	require.NoError(t, err)
	return decodeRaw(t, resp)
}

func postQuery(t *testing.T, base, query string, vars map[string]any) rawResponse {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	return postBody(t, base, bytes.NewReader(b))
}

// repeatJoin joins n results of f with spaces.
func repeatJoin(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
		b.WriteByte(' ')
	}
	return b.String()
}

// slowHeaders sends a request's headers one byte every 100ms over a raw
// connection, for at most 30s, and reports when the server closed it.
func slowHeaders(t *testing.T, base string) (closedAfter time.Duration, err error) {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer conn.Close()
	head := "POST /query HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nX-Padding: " + strings.Repeat("a", 400)
	start := time.Now()
	for i := 0; time.Since(start) < 30*time.Second; i++ {
		if _, err := conn.Write([]byte{head[i%len(head)]}); err != nil {
			return time.Since(start), err
		}
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var buf [512]byte
		n, err := conn.Read(buf[:])
		if n > 0 || (err != nil && !errors.Is(err, syscall.EAGAIN) && !isTimeout(err)) {
			return time.Since(start), fmt.Errorf("server answered %q, %v", buf[:n], err)
		}
	}
	return time.Since(start), errors.New("the server kept the connection open")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// slowBody sends a request's headers at once and its body one byte every
// 100ms, and reports what came back and when.
func slowBody(t *testing.T, base string) (time.Duration, string) {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer conn.Close()
	body := `{"query":"{ __typename }"}` + strings.Repeat(" ", 400)
	fmt.Fprintf(conn, "POST /query HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", u.Host, len(body))
	start := time.Now()
	for i := 0; i < len(body) && time.Since(start) < 30*time.Second; i++ {
		if _, err := conn.Write([]byte{body[i]}); err != nil {
			break
		}
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var buf [4096]byte
		if n, err := conn.Read(buf[:]); n > 0 {
			line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
			return time.Since(start), "answered " + line
		} else if err != nil && !isTimeout(err) {
			return time.Since(start), "closed: " + err.Error()
		}
	}
	return time.Since(start), "kept open"
}

// Hostile requests against the real binary: each gets its documented
// error quickly, and the server stays healthy after each.
func TestAdversarialInputs(t *testing.T) {
	db := demoDB(t)
	srv := startServer(t, nil, "--db", db, "--read-header-timeout", "1s", "--read-timeout", "3s",
		"--request-timeout", "5s", "--write-timeout", "10s")
	base := srv.url

	bigPad := strings.Repeat("x", 1<<20)
	nested := func(levels int) string {
		q := "itemKey"
		for range levels {
			q = "batchOperation { items(first: 1) { nodes { " + q + " } } }"
		}
		return "{ batchOperationItems(first: 1) { nodes { " + q + " } } }"
	}
	expFragments := func() string {
		var b strings.Builder
		b.WriteString("{ ...F0 }\n")
		for i := range 50 {
			fmt.Fprintf(&b, "fragment F%d on Query { batches(first: 1) { nodes { batchId } } b%d: batches(first: 1) { nodes { ...F%d ...F%d } } }\n", i, i, i+1, i+1)
		}
		b.WriteString("fragment F50 on Query { __typename }")
		return b.String()
	}
	const opsByState = `query($s: [BatchOperationState!]) { batchOperations(filter: {state: {in: $s}}) { totalCount } }`

	type want struct {
		status int
		code   string // "" means: no errors
	}
	attacks := []struct {
		name string
		run  func(t *testing.T) rawResponse
		want want
	}{
		{"1 MiB+ body", func(t *testing.T) rawResponse {
			return postBody(t, base, strings.NewReader(`{"query":"{ __typename }","variables":{"pad":"`+bigPad+`"}}`))
		}, want{413, "BAD_USER_INPUT"}},
		{"1 MiB+ body, chunked", func(t *testing.T) rawResponse {
			return postBody(t, base, io.MultiReader(strings.NewReader(`{"query":"{ __typename }","variables":{"pad":"`+bigPad+`"}}`)))
		}, want{413, "BAD_USER_INPUT"}},
		{"10k aliases", func(t *testing.T) rawResponse {
			return postQuery(t, base, "{ batches(first: 1) { nodes { "+repeatJoin(10_000, func(i int) string { return fmt.Sprintf("a%d: batchId", i) })+" } } }", nil)
		}, want{200, "COMPLEXITY_LIMIT_EXCEEDED"}},
		{"10k root fields of one name", func(t *testing.T) rawResponse {
			return postQuery(t, base, "{ "+repeatJoin(10_000, func(int) string { return "__typename" })+" }", nil)
		}, want{200, "COMPLEXITY_LIMIT_EXCEEDED"}},
		{"1000 conflicting fields of one name (quadratic validation)", func(t *testing.T) rawResponse {
			return postQuery(t, base, "{ "+repeatJoin(1000, func(i int) string { return fmt.Sprintf("x: batches(first: %d) { totalCount }", i%1000) })+" }", nil)
		}, want{200, "COMPLEXITY_LIMIT_EXCEEDED"}},
		{"2000 fragments", func(t *testing.T) rawResponse {
			return postQuery(t, base, "{ "+repeatJoin(2000, func(i int) string { return fmt.Sprintf("...F%d", i) })+" } "+
				repeatJoin(2000, func(i int) string { return fmt.Sprintf("fragment F%d on Query { f%d: __typename }", i, i) }), nil)
		}, want{200, "COMPLEXITY_LIMIT_EXCEEDED"}},
		{"deeply nested fragments (2^50 expansion)", func(t *testing.T) rawResponse {
			return postQuery(t, base, expFragments(), nil)
		}, want{200, "COMPLEXITY_LIMIT_EXCEEDED"}},
		{"fragment cycle", func(t *testing.T) rawResponse {
			return postQuery(t, base, `{ ...A } fragment A on Query { batches { nodes { ...B } } } fragment B on Batch { batchId ...C } fragment C on Batch { ...B }`, nil)
		}, want{200, "GRAPHQL_VALIDATION_FAILED"}},
		{"nesting 300 levels", func(t *testing.T) rawResponse { return postQuery(t, base, nested(100), nil) },
			want{200, "COMPLEXITY_LIMIT_EXCEEDED"}},
		{"nesting beyond the parser (100k braces)", func(t *testing.T) rawResponse {
			return postQuery(t, base, strings.Repeat("{a", 100_000)+strings.Repeat("}", 100_000), nil)
		}, want{200, "GRAPHQL_PARSE_FAILED"}},
		{"nested connections of 1000 × 1000", func(t *testing.T) rawResponse {
			return postQuery(t, base, `{ batchOperations(first: 1000) { nodes { items(first: 1000) { nodes { itemKey } } } } }`, nil)
		}, want{200, "COMPLEXITY_LIMIT_EXCEEDED"}},
		{"first: 1000000", func(t *testing.T) rawResponse {
			return postQuery(t, base, `{ batchOperationItems(first: 1000000) { nodes { itemKey } } }`, nil)
		}, want{200, "BAD_USER_INPUT"}},
		{"negative last", func(t *testing.T) rawResponse {
			return postQuery(t, base, `{ batches(last: -5) { nodes { batchId } } }`, nil)
		}, want{200, "BAD_USER_INPUT"}},
		{"unknown enum value in variables", func(t *testing.T) rawResponse {
			return postQuery(t, base, opsByState, map[string]any{"s": []string{"ACTIVE", "EXPLODED"}})
		}, want{200, "GRAPHQL_VALIDATION_FAILED"}},
		{"wrong variable type", func(t *testing.T) rawResponse {
			return postQuery(t, base, `query($n: Int) { batches(first: $n) { totalCount } }`, map[string]any{"n": "ten"})
		}, want{200, "GRAPHQL_VALIDATION_FAILED"}},
		{"variables not an object", func(t *testing.T) rawResponse {
			return postBody(t, base, strings.NewReader(`{"query":"{ __typename }","variables":[1,2]}`))
		}, want{400, "BAD_USER_INPUT"}},
		{"invalid UTF-8 in the query", func(t *testing.T) rawResponse {
			return postBody(t, base, strings.NewReader("{\"query\":\"{ batches\xff\xfe { totalCount } }\"}"))
		}, want{200, "GRAPHQL_PARSE_FAILED"}},
		{"invalid UTF-8 in variables (decoded as U+FFFD, no match)", func(t *testing.T) rawResponse {
			return postBody(t, base, strings.NewReader("{\"query\":\"query($k: ID!) { batchOperation(batchOperationKey: $k) { state } }\",\"variables\":{\"k\":\"\xff\xfe\"}}"))
		}, want{200, ""}},
		{"invalid UTF-8 in a global id", func(t *testing.T) rawResponse {
			return postBody(t, base, strings.NewReader("{\"query\":\"query($id: ID!) { node(id: $id) { id } }\",\"variables\":{\"id\":\"\xc3\x28\"}}"))
		}, want{200, "BAD_USER_INPUT"}},
		{"batched (array) body", func(t *testing.T) rawResponse {
			return postBody(t, base, strings.NewReader(`[{"query":"{ __typename }"},{"query":"{ __typename }"}]`))
		}, want{400, "GRAPHQL_PARSE_FAILED"}},
		{"JSON nested 100k deep", func(t *testing.T) rawResponse {
			return postBody(t, base, strings.NewReader(`{"query":"{ __typename }","variables":{"a":`+strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)+`}}`))
		}, want{400, "GRAPHQL_PARSE_FAILED"}},
		{"100k ids for nodes", func(t *testing.T) rawResponse {
			ids := make([]string, 100_001)
			for i := range ids {
				ids[i] = "x"
			}
			return postQuery(t, base, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids})
		}, want{200, "COMPLEXITY_LIMIT_EXCEEDED"}},
	}
	healthy := func(t *testing.T) {
		t.Helper()
		resp, body := srv.get("/healthz")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var page opsPage
		srv.query(opsQuery, "FirstOps", &page)
		require.Len(t, page.BatchOperations.Nodes, 5)
	}
	healthy(t)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			start := time.Now()
			r := a.run(t)
			took := time.Since(start)
			t.Logf("%-60s %-70s in %s", a.name, r, took.Round(time.Millisecond))
			assert.Less(t, took, 10*time.Second, "did not hang")
			assert.True(t, r.validJSON, "not JSON: %.200s", r.body)
			assert.Equal(t, a.want.status, r.status, "%s", r)
			if a.want.code == "" {
				assert.Empty(t, r.codes)
				assert.True(t, r.hasData, "%s", r)
			} else {
				assert.Equal(t, []string{a.want.code}, r.codes, "%s", r)
			}
			healthy(t)
		})
	}
	t.Run("slow client sending headers byte by byte", func(t *testing.T) {
		took, err := slowHeaders(t, base)
		t.Logf("%-60s %-70s in %s", "slow headers (--read-header-timeout 1s)", fmt.Sprint(err), took.Round(time.Millisecond))
		assert.Less(t, took, 10*time.Second, "ReadHeaderTimeout cuts it off")
		healthy(t)
	})
	t.Run("slow client sending the body byte by byte", func(t *testing.T) {
		took, what := slowBody(t, base)
		t.Logf("%-60s %-70s in %s", "slow body (--read-timeout 3s)", what, took.Round(time.Millisecond))
		assert.Less(t, took, 10*time.Second, "ReadTimeout cuts it off")
		assert.NotEqual(t, "kept open", what)
		healthy(t)
	})
	assert.Equal(t, 0, srv.stop(), srv.logs.String())
	assert.NotContains(t, srv.logs.String(), "graphql internal error")
	assert.NotContains(t, srv.logs.String(), "panic")
}

// SIGTERM lets a request in flight finish (its body is still being sent
// when the signal arrives), refuses new connections, then closes the
// database: the lock is free once the process has exited 0.
func TestGracefulShutdownDrainsInFlightRequests(t *testing.T) {
	db := demoDB(t)
	srv := startServer(t, nil, "--db", db, "--shutdown-timeout", "20s")
	u, _ := url.Parse(srv.url)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer conn.Close()
	body := `{"query":"query InFlight { batchOperations(first: 3) { totalCount nodes { batchOperationKey } } }"}`
	fmt.Fprintf(conn, "POST /query HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		u.Host, len(body))
	br := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "100 Continue", "the handler is reading the body")
	_, err = br.ReadString('\n') // the blank line after 100 Continue
	require.NoError(t, err)

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "shutting down") },
		10*time.Second, 10*time.Millisecond)
	// The listener is closed: new connections are refused...
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond)
	// ...while the request in flight completes normally.
	select {
	case <-srv.done:
		t.Fatalf("the server exited with a request in flight:\n%s", srv.logs)
	default:
	}
	_, err = io.WriteString(conn, body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	r := decodeRaw(t, resp)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.codes)
	assert.Contains(t, string(r.body), `"totalCount":30`)

	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the server did not exit after the last request:\n%s", srv.logs)
	}
	assert.Equal(t, 0, srv.code, srv.logs.String())
	assert.Contains(t, srv.logs.String(), "operation=InFlight")
	assert.Contains(t, srv.logs.String(), "msg=stopped")
	// bbolt was closed: another process gets the lock at once.
	s, err := storage.Open(db, storage.Options{Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, s.Verify(t.Context()))
	require.NoError(t, s.Close())
}

func TestLimitFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--max-complexity", "0"}, "must be at least 1"},
		{[]string{"BATCHQL_MAX_DEPTH=deep"}, nil, "BATCHQL_MAX_DEPTH"},
		{nil, []string{"--max-body", "10"}, "must be at least 1024"},
		{nil, []string{"--request-timeout", "0s"}, "--request-timeout must be positive"},
		{[]string{"BATCHQL_READ_HEADER_TIMEOUT=-1s"}, nil, "--read-header-timeout must be positive"},
		{nil, []string{"--request-timeout", "2m", "--write-timeout", "1m"}, "--request-timeout (2m0s) must be shorter than --write-timeout (1m0s)"},
	} {
		r := batchql(t, tc.env, "", append([]string{"serve", "--db", filepath.Join(dir, "never.db")}, tc.args...)...)
		assert.Equal(t, 2, r.code, "%v %v: %s", tc.env, tc.args, r.stderr)
		assert.Contains(t, r.stderr, tc.want)
	}
	assert.NoFileExists(t, filepath.Join(dir, "never.db"))

	// The flags reach the handler.
	srv := startServer(t, []string{"BATCHQL_MAX_DEPTH=2"}, "--db", filepath.Join(dir, "x.db"), "--max-complexity", "5", "--max-body", "2048")
	r := postQuery(t, srv.url, `{ batches { nodes { batchId } } }`, nil)
	assert.Equal(t, []string{"COMPLEXITY_LIMIT_EXCEEDED"}, r.codes, "%s", r)
	assert.Contains(t, string(r.body), "more than the limit of 2")
	r = postQuery(t, srv.url, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{"a", "b", "c", "d", "e", "f"}})
	assert.Contains(t, string(r.body), "costs 6, more than the limit of 5")
	r = postBody(t, srv.url, strings.NewReader(`{"query":"{ __typename }","variables":{"p":"`+strings.Repeat("x", 2048)+`"}}`))
	assert.Equal(t, 413, r.status)
	assert.Contains(t, srv.logs.String(), "max_complexity=5")
	assert.Equal(t, 0, srv.stop())
}
