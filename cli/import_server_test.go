package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/web"
)

const serverToken = "t0ken-for-tests"

// importTestServer runs the real router with /import enabled.
func importTestServer(t *testing.T, imp *web.ImportOptions) string {
	t.Helper()
	store, err := storage.Open(filepath.Join(t.TempDir(), "server.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(web.NewRouter(store, graph.Config{}, nil, slog.New(slog.DiscardHandler), web.Options{Import: imp}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type cliRun struct {
	code        int
	out, errout string
}

func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) cliRun {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb}, func(k string) string { return env[k] })
	return cliRun{code, out.String(), errb.String()}
}

// timing hides what differs between two runs: durations, rates and the
// database line.
var timing = regexp.MustCompile(`in [0-9.]+[µnm]?s \([0-9,.]+ records/s\)`)

func sameReport(s string) string {
	var keep []string
	for _, l := range strings.Split(timing.ReplaceAllString(s, "in T (R records/s)"), "\n") {
		if !strings.HasPrefix(l, "database ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestImportServerPrintsWhatLocalPrints(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	op := `{"batchOperationKey":"1","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`
	ops := write("ops.json", `{"items":[`+op+`],"page":{"totalItems":40,"hasMoreTotalItems":false,"endCursor":"WyIxIl0="}}`)
	var items strings.Builder
	for i := range 50 {
		items.WriteString(`{"batchOperationKey":"1","itemKey":"` + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + `","state":"COMPLETED"}` + "\n")
	}
	nd := write("items.ndjson", items.String())
	bad := write("bad.ndjson", op+"\n"+strings.Replace(op, "ACTIVE", "DONE", 1)+"\n")
	empty := write("empty.json", "")
	problem := write("problem.json", `{"type":"about:blank","title":"UNAUTHORIZED","status":401,"detail":"no credentials","instance":"/v2/batch-operations/search"}`)

	url := importTestServer(t, &web.ImportOptions{Token: serverToken})
	local := filepath.Join(dir, "local.db")
	remote := func(files ...string) cliRun {
		return runCLI(t, nil, "", append([]string{"import", "--server", url, "--import-token", serverToken}, files...)...)
	}
	localRun := func(files ...string) cliRun {
		return runCLI(t, nil, "", append([]string{"import", "--db", local, "--progress", "never"}, files...)...)
	}

	for _, round := range []string{"first", "again: unchanged"} {
		l, r := localRun(ops, nd), remote(ops, nd)
		require.Equal(t, ExitOK, l.code, l.errout)
		require.Equal(t, ExitOK, r.code, r.errout)
		assert.Equal(t, sameReport(l.out), sameReport(r.out), round)
		assert.Equal(t, l.errout, r.errout, round+": the same warnings")
		assert.Contains(t, r.errout, `batchql: warning: `+ops+`: search response 1 (line 1) holds 1 of page.totalItems 40 items`)
		assert.Regexp(t, `(?m)^database of `+regexp.QuoteMeta(url)+`: [0-9.]+ [KM]i?B$`, r.out)
		if round == "first" {
			assert.Regexp(t, `batch operation item\s+50 new\s+0 updated\s+0 unchanged`, r.out)
		} else {
			assert.Regexp(t, `batch operation item\s+0 new\s+0 updated\s+50 unchanged`, r.out)
		}
		assert.Contains(t, r.out, "total: 51 records in ")
	}

	// Refusals read the same both ways, naming file, record, field, value.
	for _, f := range []string{bad, empty, problem} {
		l, r := localRun(f), remote(f)
		assert.Equal(t, ExitFail, r.code)
		assert.Equal(t, l.code, r.code)
		assert.Equal(t, l.errout, r.errout, f)
		assert.Empty(t, r.out)
	}
	assert.Contains(t, remote(bad).errout, `batchql: import `+bad+` record 2 (line 2): field "state": value "DONE": unknown BatchOperationState`)
	assert.Contains(t, remote(bad).errout, "nothing from "+bad+" was written")
	assert.Contains(t, remote(empty).errout, "empty input: no records")
	assert.Contains(t, remote(problem).errout, "the input is an error response from the engine, not records: 401 UNAUTHORIZED: no credentials")

	// Standard input is streamed; the token may come from the environment.
	r := runCLI(t, map[string]string{"BATCHQL_IMPORT_TOKEN": serverToken}, items.String(), "import", "--server", url+"/", "-")
	require.Equal(t, ExitOK, r.code, r.errout)
	assert.Regexp(t, `<stdin>: 50 records in .*\n\s+batch operation item\s+0 new\s+0 updated\s+50 unchanged`, r.out)
}

func TestImportServerErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "op.json")
	require.NoError(t, os.WriteFile(file, []byte(strings.Repeat(`{"batchOperationKey":"1","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`+"\n", 20)), 0o600))
	enabled := importTestServer(t, &web.ImportOptions{Token: serverToken, MaxBody: 1024})
	disabled := importTestServer(t, nil)
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no token", []string{"--server", enabled, file}, ExitFail, []string{"401 Unauthorized: missing token", "--import-token or BATCHQL_IMPORT_TOKEN"}},
		{"wrong token", []string{"--server", enabled, "--import-token", "nope", file}, ExitFail, []string{"401 Unauthorized: wrong token"}},
		{"imports disabled", []string{"--server", disabled, "--import-token", serverToken, file}, ExitFail, []string{"answered 404: the server does not accept imports (start it with --import-token"}},
		{"over the limit", []string{"--server", enabled, "--import-token", serverToken, file}, ExitFail, []string{"import " + file + ": the body is larger than the server's --max-import-body (1024 bytes)"}},
		{"not a URL", []string{"--server", "localhost:8080", file}, ExitUsage, []string{`--server "localhost:8080": want the server's base URL, e.g. http://localhost:8080`}},
		{"server down", []string{"--server", "http://127.0.0.1:1", "--import-token", serverToken, file}, ExitFail, []string{"import " + file + ": sending it to http://127.0.0.1:1/import:", "refused"}},
		{"a directory", []string{"--server", enabled, "--import-token", serverToken, dir}, ExitFail, []string{"is a directory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, nil, "", append([]string{"import"}, c.args...)...)
			assert.Equal(t, c.code, r.code, r.errout)
			for _, w := range c.want {
				assert.Contains(t, r.errout, w)
			}
			assert.Empty(t, r.out)
		})
	}
}

// TestImportLockedNamesServer: the local import's lock error points at
// --server.
func TestImportLockedNamesServer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "held.db")
	s, err := storage.Open(db, storage.Options{})
	require.NoError(t, err)
	defer s.Close()
	file := filepath.Join(t.TempDir(), "op.json")
	require.NoError(t, os.WriteFile(file, []byte(`[]`), 0o600))
	r := runCLI(t, nil, "", "import", "--db", db, "--lock-timeout", "100ms", file)
	assert.Equal(t, ExitFail, r.code)
	assert.Contains(t, r.errout, "in use by another process")
	assert.Contains(t, r.errout, "batchql import --server URL")
}

// TestImportServerBinary: the user's path with the real binary: a server
// holds the database, the local import fails naming --server, and
// import --server (token from the environment) imports into the served
// database, the query sees the records at once, and "serve" without a token
// has no /import.
func TestImportServerBinary(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "served.db")
	file := filepath.Join(dir, "ops.json")
	require.NoError(t, os.WriteFile(file, []byte(`[{"batchOperationKey":"11","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"},`+
		`{"batchOperationKey":"12","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"FAILED"}]`), 0o600))
	srv := startServer(t, []string{"BATCHQL_IMPORT_TOKEN=" + serverToken}, "--db", db)
	defer srv.stop()

	r := batchql(t, nil, "", "import", "--db", db, "--lock-timeout", "100ms", file)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "in use by another process")
	assert.Contains(t, r.stderr, "batchql import --server URL")

	r = batchql(t, []string{"BATCHQL_IMPORT_TOKEN=" + serverToken}, "", "import", "--server", srv.url, file)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `ops.json: 2 records in .*\n\s+batch operation\s+2 new\s+0 updated\s+0 unchanged`, r.stdout)
	var page struct{ BatchOperations struct{ TotalCount int } }
	srv.query(`{ batchOperations { totalCount } }`, "", &page)
	assert.Equal(t, 2, page.BatchOperations.TotalCount)
	assert.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "path=/import status=200") },
		5*time.Second, 50*time.Millisecond, srv.logs.String())

	r = batchql(t, nil, "", "import", "--server", srv.url, file)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "401 Unauthorized: missing token")

	plain := startServer(t, nil, "--db", filepath.Join(dir, "plain.db"))
	defer plain.stop()
	r = batchql(t, []string{"BATCHQL_IMPORT_TOKEN=" + serverToken}, "", "import", "--server", plain.url, file)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the server does not accept imports")
}
