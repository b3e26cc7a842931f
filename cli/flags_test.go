package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"db":                "BATCHQL_DB",
		"camunda8-url":      "BATCHQL_CAMUNDA8_URL",
		"max-page-size":     "BATCHQL_MAX_PAGE_SIZE",
		"playground-assets": "BATCHQL_PLAYGROUND_ASSETS",
	} {
		assert.Equal(t, want, envName(flag))
	}
}

// Every flag of every command has its variable, listed in --help; a new
// flag needs no list to be kept.
func TestEveryFlagHasItsVariable(t *testing.T) {
	for _, c := range commands {
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{c.name, "--help"}, Stdio{Out: &out, Err: &errb}, noEnv)
		require.Equal(t, ExitOK, code, errb.String())
		n := 0
		for _, line := range strings.Split(out.String(), "\n") {
			if name, ok := strings.CutPrefix(line, "  --"); ok {
				name, _, _ = strings.Cut(name, " ")
				assert.Contains(t, line, "(env "+envName(name), c.name+": "+line)
				n++
			}
		}
		assert.Greater(t, n, 3, c.name)
	}

	// A variable sets its flag (here one that was never listed by hand);
	// the command line beats it.
	dir := t.TempDir()
	var out, errb bytes.Buffer
	env := func(k string) string {
		return map[string]string{"BATCHQL_PLAYGROUND_CDN": "true", "BATCHQL_PLAYGROUND_ASSETS": dir}[k]
	}
	code := Run(context.Background(), []string{"serve", "--db", filepath.Join(dir, "x.db")}, Stdio{Out: &out, Err: &errb}, env)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errb.String(), "--playground-cdn and --playground-assets exclude each other")
	errb.Reset()
	code = Run(context.Background(), []string{"demo", "--db", filepath.Join(dir, "x.db"), "--batches", "1"},
		Stdio{Out: &out, Err: &errb}, func(k string) string { return map[string]string{"BATCHQL_BATCHES": "-5", "BATCHQL_SEED": "x"}[k] })
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errb.String(), `invalid value "x" for environment variable BATCHQL_SEED (--seed)`, "BATCHQL_BATCHES is not read: --batches is given")
	assert.NoFileExists(t, filepath.Join(dir, "x.db"))
}

func noEnv(string) string { return "" }

// Bad command lines and variables are usage errors (exit 2) that name the
// flag as it is typed (two dashes), suggest the flag that was meant, and
// print the usage; nothing runs.
func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "never.db")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
		not  []string
	}{
		{"port for addr", []string{"serve", "--port", "8099"}, nil,
			[]string{"flag provided but not defined: --port (did you mean --addr?)", "Usage: batchql [serve]"}, []string{": -port"}},
		{"one dash", []string{"serve", "-port=8099"}, nil, []string{"not defined: --port (did you mean --addr?)"}, nil},
		{"default command", []string{"--port", "8099"}, nil, []string{"not defined: --port (did you mean --addr?)"}, nil},
		{"typo", []string{"serve", "--adr", ":8099"}, nil, []string{"not defined: --adr (did you mean --addr?)"}, nil},
		{"prefix", []string{"serve", "--max-page", "5"}, nil, []string{"(did you mean --max-page-size?)"}, nil},
		{"underscores", []string{"serve", "--max_page_size", "5"}, nil, []string{"(did you mean --max-page-size?)"}, nil},
		{"database", []string{"serve", "--database", "x.db"}, nil, []string{"(did you mean --db?)"}, nil},
		{"plural", []string{"serve", "--playground-asset", "x"}, nil, []string{"(did you mean --playground-assets?)"}, nil},
		{"import", []string{"import", "--batchsize", "5", "f.json"}, nil, []string{"batchql import: flag provided but not defined: --batchsize (did you mean --batch-size?)", "Usage: batchql import"}, nil},
		{"demo", []string{"demo", "--operation", "5"}, nil, []string{"(did you mean --operations?)"}, nil},
		{"nothing close", []string{"serve", "--frobnicate"}, nil, []string{"flag provided but not defined: --frobnicate\n"}, []string{"did you mean"}},
		{"addr without port", []string{"serve", "--addr", "8099"}, nil,
			[]string{`invalid value "8099" for flag --addr: want host:port, e.g. :8099 (all interfaces) or 127.0.0.1:8099`, "Usage: batchql [serve]"}, nil},
		{"addr host only", []string{"serve", "--addr", "localhost"}, nil, []string{`for flag --addr: want host:port`}, nil},
		{"addr bad port", []string{"serve", "--addr", ":99999"}, nil, []string{`port from 0 to 65535`}, nil},
		{"addr named port", []string{"serve", "--addr", ":http"}, nil, []string{`port from 0 to 65535`}, nil},
		{"addr env", []string{"serve"}, map[string]string{"BATCHQL_ADDR": "8099"},
			[]string{`invalid value "8099" for environment variable BATCHQL_ADDR (--addr): want host:port, e.g. :8099`}, nil},
		{"debug addr", []string{"serve", "--debug-addr", "6060"}, nil, []string{`for flag --debug-addr: want host:port, e.g. :6060`}, nil},
		{"needs an argument", []string{"serve", "--addr"}, nil, []string{"flag needs an argument: --addr"}, nil},
		{"bad bool", []string{"serve", "--demo=maybe"}, nil, []string{`invalid boolean value "maybe" for --demo`}, nil},
		{"bad int", []string{"serve", "--max-page-size", "lots"}, nil, []string{`invalid value "lots" for flag --max-page-size: not an integer`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			getenv := func(k string) string { return tc.env[k] }
			args := append([]string{"--db", db}, tc.args...) // the default command
			if !strings.HasPrefix(tc.args[0], "-") {
				args = append([]string{tc.args[0], "--db", db}, tc.args[1:]...)
			}
			code := Run(context.Background(), args, Stdio{Out: &out, Err: &errb}, getenv)
			assert.Equal(t, ExitUsage, code, errb.String())
			for _, w := range tc.want {
				assert.Contains(t, errb.String(), w)
			}
			for _, w := range tc.not {
				assert.NotContains(t, errb.String(), w)
			}
			assert.Empty(t, out.String())
		})
	}
	assert.NoFileExists(t, db)

	// Good addresses pass.
	fs := newFlagSet("x", "")
	a := fs.addr("addr", ":8080", false, "")
	d := fs.addr("debug-addr", "", true, "")
	for _, v := range []string{":0", "127.0.0.1:8099", "[::1]:8099", "localhost:65535", ":8080"} {
		require.NoError(t, fs.Set("addr", v), v)
		assert.Equal(t, v, *a)
	}
	require.NoError(t, fs.Set("debug-addr", ""))
	assert.Empty(t, *d)
	assert.Error(t, fs.Set("addr", ""), "serve needs an address")
}

func TestSuggest(t *testing.T) {
	fs := newFlagSet("x", "")
	for _, n := range []string{"addr", "db", "demo", "debug-addr", "lock-timeout", "max-depth", "max-page-size"} {
		fs.Bool(n, false, "")
	}
	for name, want := range map[string]string{
		"port": "addr", "listen": "addr", "address": "addr", "adr": "addr", "ADDR": "addr",
		"database": "db", "dbb": "db", "demos": "demo", "lock": "lock-timeout", "lock-timout": "lock-timeout",
		"max-dept": "max-depth", "max-page": "max-page-size", "debug_addr": "debug-addr",
		"zzz": "", "x": "", "verbose": "",
	} {
		assert.Equal(t, want, fs.suggest(name), name)
	}
}
