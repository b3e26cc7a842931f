// Command batchql serves a GraphQL API over Camunda 7 batches and Camunda 8
// batch operations, kept in an embedded bbolt read model.
//
//	batchql [serve] [--addr :8080] [--db batchql.db] [--demo] ...
//	batchql import [--db batchql.db] FILE...
//	batchql demo [--db batchql.db] [--batches N] [--operations N] ...
//
// Run "batchql COMMAND --help" for the flags of a command and their
// environment variables.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/progress"
	"github.com/batchql/batchql/storage"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (bad input file, locked database, ...)
	exitUsage = 2 // bad command line or environment
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}, os.Getenv)
	stop()
	os.Exit(code)
}

// stdio are a command's standard streams. errTTY says whether err is a
// terminal (progress bars are drawn only then).
type stdio struct {
	in     io.Reader
	out    io.Writer
	err    io.Writer
	errTTY bool
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io *stdio, getenv func(string) string) int
}

var commands = []command{
	{"serve", "serve the GraphQL API, the playground and /healthz (the default)", runServe},
	{"import", "import Camunda 7/8 JSON or NDJSON files into the database", runImport},
	{"demo", "write a synthetic demo data set into the database", runDemo},
}

// run is the whole program: it parses args (without the program name) and
// returns the exit code.
func run(ctx context.Context, args []string, std *stdio, getenv func(string) string) int {
	if f, ok := std.err.(*os.File); ok && !std.errTTY {
		std.errTTY = progress.IsTerminal(f)
	}
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelp(args[0])) {
		return runServe(ctx, args, std, getenv)
	}
	name, rest := args[0], args[1:]
	if isHelp(name) || name == "help" {
		if name == "help" && len(rest) > 0 {
			if c := findCommand(rest[0]); c != nil {
				return c.run(ctx, []string{"--help"}, std, getenv)
			}
			fmt.Fprintf(std.err, "batchql: unknown command %q\n\n", rest[0])
			printUsage(std.err)
			return exitUsage
		}
		printUsage(std.out)
		return exitOK
	}
	if c := findCommand(name); c != nil {
		return c.run(ctx, rest, std, getenv)
	}
	fmt.Fprintf(std.err, "batchql: unknown command %q\n\n", name)
	printUsage(std.err)
	return exitUsage
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `batchql: a GraphQL API over Camunda 7 batches and Camunda 8 batch operations.

Usage:
  batchql [serve] [flags]        (serve is the default command)
  batchql import [flags] FILE... (- reads standard input)
  batchql demo [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "batchql COMMAND --help" for a command's flags and environment variables.
`)
}

// flagSet is a flag.FlagSet whose flags may also come from environment
// variables; a flag given on the command line beats its variable.
type flagSet struct {
	*flag.FlagSet
	usage string            // synopsis and description, printed before the flags
	env   map[string]string // flag name → environment variable
}

func newFlagSet(name, usage string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {} // parse prints the usage itself (stdout for --help)
	return &flagSet{FlagSet: fs, usage: usage, env: map[string]string{}}
}

// withEnv binds the flag name to the environment variable v.
func (fs *flagSet) withEnv(name, v string) {
	if fs.Lookup(name) == nil {
		panic("no flag " + name)
	}
	fs.env[name] = v
}

func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprint(w, fs.usage)
	fmt.Fprint(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if arg != "" {
			head += " " + arg
		}
		var notes []string
		if v := fs.env[f.Name]; v != "" {
			notes = append(notes, "env "+v)
		}
		if f.DefValue != "" && (f.DefValue != "0" || arg == "n") {
			notes = append(notes, "default "+f.DefValue)
		}
		if len(notes) > 0 {
			head += "  (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(w, "%s\n        %s\n", head, help)
	})
	if len(fs.env) > 0 {
		fmt.Fprint(w, "\nA flag given on the command line beats its environment variable.\n")
	}
}

// parse parses args and then the environment. It returns a non-negative
// exit code when the command should stop (after --help, or on an error).
func (fs *flagSet) parse(args []string, std *stdio, getenv func(string) string) int {
	fs.SetOutput(std.err)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printUsage(std.out)
			return exitOK
		}
		// flag has printed the error already.
		fmt.Fprintln(std.err)
		fs.printUsage(std.err)
		return exitUsage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	names := make([]string, 0, len(fs.env))
	for n := range fs.env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if given[n] {
			continue
		}
		v := getenv(fs.env[n])
		if v == "" {
			continue
		}
		if err := fs.Set(n, v); err != nil {
			fmt.Fprintf(std.err, "batchql %s: invalid value %q for environment variable %s (--%s): %v\n",
				fs.Name(), v, fs.env[n], n, cleanFlagErr(err))
			return exitUsage
		}
	}
	return -1
}

// cleanFlagErr turns strconv's "strconv.ParseInt: parsing "x": invalid
// syntax" into "invalid syntax".
func cleanFlagErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "strconv.") {
		return msg[i+2:]
	}
	return msg
}

// boundedInt is an int flag that must be at least min.
type boundedInt struct {
	v   *int
	min int
}

func (b boundedInt) String() string {
	if b.v == nil {
		return "0"
	}
	return fmt.Sprint(*b.v)
}

func (b boundedInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	if n < b.min {
		return fmt.Errorf("must be at least %d", b.min)
	}
	*b.v = n
	return nil
}

func intFlag(fs *flagSet, name string, def, min int, usage string) *int {
	v := def
	fs.Var(boundedInt{&v, min}, name, usage)
	return &v
}

// logLevel is a slog level flag: debug, info, warn or error.
type logLevel struct{ l *slog.Level }

func (f logLevel) String() string {
	if f.l == nil {
		return "info"
	}
	return strings.ToLower(f.l.String())
}

func (f logLevel) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("must be debug, info, warn or error")
	}
	return f.l.UnmarshalText([]byte(s))
}

// choice is a string flag limited to some values.
type choice struct {
	v       *string
	allowed []string
}

func (c choice) String() string {
	if c.v == nil {
		return ""
	}
	return *c.v
}

func (c choice) Set(s string) error {
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("must be one of %s", strings.Join(c.allowed, ", "))
	}
	*c.v = s
	return nil
}

func choiceFlag(fs *flagSet, name, def string, allowed []string, usage string) *string {
	v := def
	fs.Var(choice{&v, allowed}, name, usage)
	return &v
}

// dbFlags are the flags every command has for its database.
type dbFlags struct {
	path        *string
	lockTimeout *time.Duration
}

func addDBFlags(fs *flagSet) dbFlags {
	d := dbFlags{
		path:        fs.String("db", "batchql.db", "the bbolt database `file` (created when missing)"),
		lockTimeout: fs.Duration("lock-timeout", time.Second, "give up after waiting this `duration` for the database's file lock (held by another process)"),
	}
	fs.withEnv("db", "BATCHQL_DB")
	fs.withEnv("lock-timeout", "BATCHQL_LOCK_TIMEOUT")
	return d
}

// open opens the database, explaining a lock held by another process.
func (d dbFlags) open(cmd string, std *stdio) (*storage.Store, int) {
	if *d.lockTimeout <= 0 {
		fmt.Fprintf(std.err, "batchql %s: --lock-timeout must be positive\n", cmd)
		return nil, exitUsage
	}
	s, err := storage.Open(*d.path, storage.Options{Timeout: *d.lockTimeout})
	if errors.Is(err, storage.ErrLocked) {
		fmt.Fprintf(std.err, "batchql %s: %v\nAnother batchql process (a server?) holds %s: stop it, or use another --db.\n", cmd, err, *d.path)
		return nil, exitFail
	}
	if err != nil {
		fmt.Fprintf(std.err, "batchql %s: %v\n", cmd, err)
		return nil, exitFail
	}
	return s, -1
}

func progressFlag(fs *flagSet) *string {
	return choiceFlag(fs, "progress", "auto", []string{"auto", "always", "never"},
		"draw a progress bar on standard error in this `mode`: auto (only on a terminal), always or never")
}

func progressBar(mode string, std *stdio) *progress.Bar {
	if mode == "always" || mode == "auto" && std.errTTY {
		return progress.New(std.err)
	}
	return nil
}

// ---------------------------------------------------------------- serve

// setGC tunes the collector for serving. A request allocates a lot that
// dies at once and the live heap stays small (a few MB), so Go's default of
// collecting at 100% growth spent much of the CPU on GC: on a page of 100
// items, GOGC 100 → 800 raised throughput from ~300 to ~870 requests/s with
// heap in use 4 → 32 MB. The soft memory limit keeps a burst of large
// queries from growing the heap past it. GOGC and GOMEMLIMIT still win.
func setGC(getenv func(string) string, percent, limitMiB int) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
	if getenv("GOMEMLIMIT") == "" && limitMiB > 0 {
		debug.SetMemoryLimit(int64(limitMiB) << 20)
	}
}

// gcPercentFlag is --gc-percent (see setGC), with the command's default:
// 800 for serve; 400 for import and demo, whose live heap is a write
// transaction's pages (at GOGC 100 the collector took ~10% of an import's
// CPU: set M, 1.02M records, 18.9 s at 100, 15.5 s at 400, RSS 475 → 547 MB
// with the 620 MB file mapped).
func gcPercentFlag(fs *flagSet, def int) *int {
	p := intFlag(fs, "gc-percent", def, 10, "garbage collect when the heap has grown by this `percent` since the last collection (GOGC, which wins when set)")
	fs.withEnv("gc-percent", "BATCHQL_GC_PERCENT")
	return p
}

func runServe(ctx context.Context, args []string, std *stdio, getenv func(string) string) int {
	fs := newFlagSet("serve", `Usage: batchql [serve] [flags]

Serves the GraphQL API at /query (POST and GET), the GraphiQL playground at /
and GET /healthz. Stops gracefully on SIGINT or SIGTERM.
`)
	addr := fs.String("addr", ":8080", "listen on `host:port` (port 0 picks a free port)")
	fs.withEnv("addr", "BATCHQL_ADDR")
	db := addDBFlags(fs)
	demo := fs.Bool("demo", false, "fill an empty database with the demo data set before serving (a non-empty one is left alone)")
	fs.withEnv("demo", "BATCHQL_DEMO")
	maxPage := intFlag(fs, "max-page-size", 1000, 1, "largest `n` accepted for first/last")
	fs.withEnv("max-page-size", "BATCHQL_MAX_PAGE_SIZE")
	lim := addLimitFlags(fs)
	introspection := fs.Bool("introspection", true, "allow GraphQL introspection (__schema, __type)")
	fs.withEnv("introspection", "BATCHQL_INTROSPECTION")
	play := fs.Bool("playground", true, "serve the GraphiQL playground at / (else / is 404)")
	fs.withEnv("playground", "BATCHQL_PLAYGROUND")
	playAssets := fs.String("playground-assets", "", "load the playground's GraphiQL, React and ReactDOM from this node_modules `dir` (e.g. e2e/node_modules after npm ci), served at /playground/..., instead of from a CDN")
	fs.withEnv("playground-assets", "BATCHQL_PLAYGROUND_ASSETS")
	level := slog.LevelInfo
	fs.Var(logLevel{&level}, "log-level", "log `level`: debug, info, warn or error")
	fs.withEnv("log-level", "BATCHQL_LOG_LEVEL")
	format := choiceFlag(fs, "log-format", "text", []string{"text", "json"}, "log `format` on standard error: text or json")
	fs.withEnv("log-format", "BATCHQL_LOG_FORMAT")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on shutdown, let in-flight requests finish for up to this `duration`")
	fs.withEnv("shutdown-timeout", "BATCHQL_SHUTDOWN_TIMEOUT")
	debugAddr := fs.String("debug-addr", "", "serve net/http/pprof (/debug/pprof/) and expvar (/debug/vars) on a separate listener at `host:port` (off when empty; keep it on loopback)")
	fs.withEnv("debug-addr", "BATCHQL_DEBUG_ADDR")
	gcPercent := gcPercentFlag(fs, 800)
	memLimit := intFlag(fs, "memory-limit-mib", 96, 0, "soft limit of the Go runtime's memory in `MiB`: collect sooner when near it (GOMEMLIMIT, which wins when set; 0 = none)")
	fs.withEnv("memory-limit-mib", "BATCHQL_MEMORY_LIMIT_MIB")
	if code := fs.parse(args, std, getenv); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.err, "batchql serve: unexpected argument %q\n\n", fs.Arg(0))
		fs.printUsage(std.err)
		return exitUsage
	}
	if err := lim.check(); err != nil {
		fmt.Fprintf(std.err, "batchql serve: %v\n", err)
		return exitUsage
	}
	setGC(getenv, *gcPercent, *memLimit)
	var playHandler http.Handler
	if *play {
		var err error
		if playHandler, err = newPlayground(*playAssets); err != nil {
			fmt.Fprintf(std.err, "batchql serve: %v\n", err)
			return exitUsage
		}
	}

	var h slog.Handler
	hopts := &slog.HandlerOptions{Level: level}
	if *format == "json" {
		h = slog.NewJSONHandler(std.err, hopts)
	} else {
		h = slog.NewTextHandler(std.err, hopts)
	}
	log := slog.New(h)

	store, code := db.open("serve", std)
	if code >= 0 {
		return code
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the database", "err", err)
		}
	}()
	if *demo {
		if err := fillDemo(ctx, store, log); err != nil {
			log.Error("demo data", "err", err)
			return exitFail
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "addr", *addr, "err", err)
		return exitFail
	}
	srv := &http.Server{
		Handler:           newRouter(store, lim.config(graph.Config{MaxPageSize: *maxPage, Introspection: *introspection}), playHandler, log),
		ReadHeaderTimeout: *lim.readHeaderTimeout,
		ReadTimeout:       *lim.readTimeout,
		WriteTimeout:      *lim.writeTimeout,
		IdleTimeout:       *lim.idleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(h, slog.LevelWarn),
	}
	if *debugAddr != "" {
		dln, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			ln.Close()
			log.Error("listen", "debug_addr", *debugAddr, "err", err)
			return exitFail
		}
		dsrv := &http.Server{Handler: debugMux(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}
		go dsrv.Serve(dln)
		defer dsrv.Close()
		log.Info("debug listening", "addr", dln.Addr().String())
	}
	log.Info("listening", "addr", ln.Addr().String(), "db", *db.path,
		"playground", *play, "introspection", *introspection, "max_page_size", *maxPage,
		"max_complexity", *lim.maxComplexity, "request_timeout", *lim.requestTimeout)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		log.Error("serve", "err", err)
		return exitFail
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", *shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: closing remaining connections", "err", err)
		srv.Close()
	}
	<-served
	log.Info("stopped")
	return exitOK
}

// limitFlags are serve's query and HTTP limits.
type limitFlags struct {
	maxComplexity, maxDepth, maxAliases, maxRootFields, maxBody *int
	maxConcurrent                                               *int
	requestTimeout, readHeaderTimeout, readTimeout              *time.Duration
	writeTimeout, idleTimeout                                   *time.Duration
}

func addLimitFlags(fs *flagSet) limitFlags {
	l := limitFlags{
		maxComplexity: intFlag(fs, "max-complexity", graph.DefaultMaxComplexity, 1,
			"reject operations that cost more than `n` (about the records they may return: page sizes multiply through nested connections)"),
		maxDepth:      intFlag(fs, "max-depth", graph.DefaultMaxDepth, 1, "reject operations that nest fields more than `n` levels deep"),
		maxAliases:    intFlag(fs, "max-aliases", graph.DefaultMaxAliases, 1, "reject operations with more than `n` aliased fields"),
		maxRootFields: intFlag(fs, "max-root-fields", graph.DefaultMaxRootFields, 1, "reject operations with more than `n` root fields"),
		maxBody:       intFlag(fs, "max-body", graph.DefaultMaxBodyBytes, 1024, "answer request bodies larger than `bytes` with 413"),
		maxConcurrent: intFlag(fs, "max-concurrent", 4*runtime.GOMAXPROCS(0), 1,
			"execute at most `n` requests at once; others wait for a slot within --request-timeout (default 4 × GOMAXPROCS)"),
		requestTimeout: fs.Duration("request-timeout", graph.DefaultRequestTimeout,
			"stop a request's database reads after this `duration` (the client gets COMPLEXITY_LIMIT_EXCEEDED)"),
		readHeaderTimeout: fs.Duration("read-header-timeout", 10*time.Second, "close connections that take longer than this `duration` to send a request's headers"),
		readTimeout:       fs.Duration("read-timeout", 60*time.Second, "close connections that take longer than this `duration` to send a whole request"),
		writeTimeout:      fs.Duration("write-timeout", 120*time.Second, "give up on a response not written within this `duration` of reading its request's headers"),
		idleTimeout:       fs.Duration("idle-timeout", 120*time.Second, "close keep-alive connections idle for this `duration`"),
	}
	for name, env := range map[string]string{
		"max-complexity": "BATCHQL_MAX_COMPLEXITY", "max-depth": "BATCHQL_MAX_DEPTH", "max-aliases": "BATCHQL_MAX_ALIASES",
		"max-root-fields": "BATCHQL_MAX_ROOT_FIELDS", "max-body": "BATCHQL_MAX_BODY", "request-timeout": "BATCHQL_REQUEST_TIMEOUT",
		"read-header-timeout": "BATCHQL_READ_HEADER_TIMEOUT", "read-timeout": "BATCHQL_READ_TIMEOUT",
		"write-timeout": "BATCHQL_WRITE_TIMEOUT", "idle-timeout": "BATCHQL_IDLE_TIMEOUT",
		"max-concurrent": "BATCHQL_MAX_CONCURRENT",
	} {
		fs.withEnv(name, env)
	}
	return l
}

// check rejects timeouts that are not positive, and a request timeout that
// would end after the response can no longer be written.
func (l limitFlags) check() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"request-timeout", *l.requestTimeout}, {"read-header-timeout", *l.readHeaderTimeout}, {"read-timeout", *l.readTimeout},
		{"write-timeout", *l.writeTimeout}, {"idle-timeout", *l.idleTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("--%s must be positive (got %s)", d.name, d.v)
		}
	}
	if *l.requestTimeout >= *l.writeTimeout {
		return fmt.Errorf("--request-timeout (%s) must be shorter than --write-timeout (%s), or a timed-out request gets no answer",
			*l.requestTimeout, *l.writeTimeout)
	}
	return nil
}

// config adds the limits to a graph.Config.
func (l limitFlags) config(c graph.Config) graph.Config {
	c.MaxComplexity, c.MaxDepth, c.MaxAliases, c.MaxRootFields = *l.maxComplexity, *l.maxDepth, *l.maxAliases, *l.maxRootFields
	c.MaxBodyBytes, c.RequestTimeout = int64(*l.maxBody), *l.requestTimeout
	c.MaxConcurrent = *l.maxConcurrent
	return c
}

// debugMux serves the profiling and metrics endpoints of --debug-addr:
// net/http/pprof under /debug/pprof/ and expvar (memstats, cmdline) at
// /debug/vars.
func debugMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	return mux
}

// fillDemo writes the default demo data set into an empty database.
func fillDemo(ctx context.Context, store *storage.Store, log *slog.Logger) error {
	var counts map[string]int64
	if err := store.View(ctx, func(r *storage.Reader) error { counts = r.Counters(); return nil }); err != nil {
		return err
	}
	if n := counts["b"] + counts["o"] + counts["i"]; n > 0 {
		log.Info("demo: the database is not empty, leaving it alone",
			"batches", counts["b"], "batch_operations", counts["o"], "items", counts["i"])
		return nil
	}
	log.Info("demo: filling the empty database")
	st, err := demo.Write(ctx, store, demo.DefaultConfig())
	if err != nil {
		return err
	}
	log.Info("demo: done", "batches", st.Batches, "batch_operations", st.Operations, "items", st.Items,
		"elapsed", st.Elapsed.Round(time.Millisecond))
	return nil
}

// newRouter wires the HTTP routes and the request log. play serves the
// playground (GET / and /playground/...; see newPlayground), nil for none.
func newRouter(store *storage.Store, cfg graph.Config, play http.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/query", graph.NewHandler(store, cfg, log))
	mux.HandleFunc("GET /healthz", healthz(store, log))
	if play != nil {
		mux.Handle("GET /{$}", play)
		mux.Handle("GET "+playgroundAssetPrefix, play)
	}
	return logRequests(mux, log)
}

func healthz(store *storage.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		err := store.View(r.Context(), func(*storage.Reader) error { return nil })
		if err != nil {
			log.Error("healthz: read transaction failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status":"unavailable"}`+"\n")
			return
		}
		io.WriteString(w, `{"status":"ok"}`+"\n")
	}
}

// statusWriter records the status code and body size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps streaming responses (multipart, SSE) working through the wrapper.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// logRequests logs every request: method, path, status, duration, response
// size and the GraphQL operation name when it is cheap to know. /healthz is
// logged at debug level.
func logRequests(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" {
			level = slog.LevelDebug
		}
		if !log.Enabled(r.Context(), level) {
			// Finding the operation name scans the body: 9% of the CPU of
			// small queries under load, for a line nobody reads.
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		op := operationName(r)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", sw.bytes),
		}
		if op != "" {
			attrs = append(attrs, slog.String("operation", op))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// peekLimit bounds how much of a POST body is read to find operationName.
const peekLimit = 64 << 10

// operationName returns the GraphQL operationName of a /query request: the
// GET parameter, or for a JSON POST the top-level "operationName" found in
// the first peekLimit bytes of the body. The body is restored for the
// handler. Empty when unknown.
func operationName(r *http.Request) string {
	if r.URL.Path != "/query" {
		return ""
	}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		if name := q.Get("operationName"); name != "" {
			return name
		}
		return leadingOperationName(q.Get("query"))
	}
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody ||
		!strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
		return ""
	}
	size := peekLimit
	if r.ContentLength >= 0 && r.ContentLength < peekLimit {
		size = int(r.ContentLength) + 1 // + 1 to see the EOF
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(r.Body, buf)
	buf = buf[:n]
	body := r.Body
	var rest io.Reader
	switch {
	case err == nil:
		rest = body
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		rest = eofReader{}
	default: // replay the read error after the buffered bytes
		rest = &errReader{err: err}
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), rest), body}
	return scanOperationName(buf)
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// scanOperationName finds the top-level "operationName" string of a JSON
// object, tolerating a body cut short after it; without one, the name of the
// document's leading operation.
func scanOperationName(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	var query string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		switch key, _ := t.(string); key {
		case "operationName":
			var name *string
			if err := dec.Decode(&name); err != nil {
				return ""
			}
			if name != nil && *name != "" {
				return *name
			}
			continue
		case "query":
			if err := dec.Decode(&query); err != nil {
				return ""
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	return leadingOperationName(query)
}

// leadingOperation matches a document that starts (after comments) with a
// named operation. When a request names no operation, the document may
// hold only one, so that is the operation that runs.
var leadingOperation = regexp.MustCompile(`^(?:[\s,\x{FEFF}]|#[^\n\r]*)*(?:query|mutation|subscription)[\s,]+([_A-Za-z][_0-9A-Za-z]*)`)

func leadingOperationName(query string) string {
	if m := leadingOperation.FindStringSubmatch(query); m != nil {
		return m[1]
	}
	return ""
}

// ---------------------------------------------------------------- import

func runImport(ctx context.Context, args []string, std *stdio, getenv func(string) string) int {
	fs := newFlagSet("import", `Usage: batchql import [flags] FILE...

Imports files in the engines' own JSON formats: Camunda 7 GET /batch,
/batch/statistics and /history/batch responses, Camunda 8 batch operation and
item search responses ({items, page}), single records, arrays of records, or
NDJSON (one record a line). "-" reads standard input. Records are upserted by
their natural key, so importing a file again changes nothing.

A file with bad input is rejected whole: the command names the file, record,
field and value, writes nothing from that file and exits with status 1
(files before it stay imported).
`)
	db := addDBFlags(fs)
	batchSize := intFlag(fs, "batch-size", 0, 0, "write `n` records per transaction (0: the storage default)")
	gcPercent := gcPercentFlag(fs, 400)
	prog := progressFlag(fs)
	if code := fs.parse(args, std, getenv); code >= 0 {
		return code
	}
	setGC(getenv, *gcPercent, 0)
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprint(std.err, "batchql import: no files given (use - for standard input)\n\n")
		fs.printUsage(std.err)
		return exitUsage
	}
	stdins := 0
	for _, f := range files {
		if f == "-" {
			stdins++
		}
	}
	if stdins > 1 {
		fmt.Fprint(std.err, "batchql import: - (standard input) may be given only once\n")
		return exitUsage
	}
	store, code := db.open("import", std)
	if code >= 0 {
		return code
	}
	defer store.Close()

	total := &importer.Stats{Kinds: map[string]*importer.KindCounts{}}
	for _, f := range files {
		name := f
		if f == "-" {
			name = "<stdin>"
		}
		bar := progressBar(*prog, std)
		opts := importer.Options{BatchSize: *batchSize}
		if bar != nil {
			opts.Progress = func(p importer.Progress) {
				detail := progress.Count(p.Records) + " records  " + progress.Bytes(p.Bytes)
				if p.TotalBytes > 0 {
					detail += " / " + progress.Bytes(p.TotalBytes)
				}
				bar.Update(p.Phase, p.Bytes, p.TotalBytes, detail)
			}
		}
		var st *importer.Stats
		var err error
		if f == "-" {
			st, err = importer.Reader(ctx, store, name, std.in, opts)
		} else {
			st, err = importer.File(ctx, store, f, opts)
		}
		if bar != nil {
			bar.Done()
		}
		if err != nil {
			fmt.Fprintf(std.err, "batchql: %v\n", err) // the importer's errors start with "import FILE"
			var ie *importer.Error
			if errors.As(err, &ie) {
				fmt.Fprintf(std.err, "batchql: nothing from %s was written\n", name)
			}
			return exitFail
		}
		printImportStats(std.out, name, st)
		total.Records += st.Records
		total.Elapsed += st.Elapsed
		for k, c := range st.Kinds {
			if total.Kinds[k] == nil {
				total.Kinds[k] = &importer.KindCounts{}
			}
			total.Kinds[k].New += c.New
			total.Kinds[k].Updated += c.Updated
			total.Kinds[k].Unchanged += c.Unchanged
		}
	}
	if len(files) > 1 {
		printImportStats(std.out, "total", total)
	}
	if size, err := store.Size(); err == nil {
		fmt.Fprintf(std.out, "database %s: %s\n", *db.path, progress.Bytes(size))
	}
	return exitOK
}

func printImportStats(w io.Writer, name string, st *importer.Stats) {
	fmt.Fprintf(w, "%s: %s in %s (%s records/s)\n", name, plural(st.Records, "record"),
		st.Elapsed.Round(time.Millisecond), progress.Count(int64(rate(st.Records, st.Elapsed))))
	for _, k := range kindOrder(st.Kinds) {
		c := st.Kinds[k]
		if c == nil || c.New+c.Updated+c.Unchanged == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-22s %10s new %10s updated %10s unchanged\n", k,
			progress.Count(c.New), progress.Count(c.Updated), progress.Count(c.Unchanged))
	}
}

// kindOrder lists the kinds of an import report: the importer's kinds in their
// natural order, then any others by name.
func kindOrder(kinds map[string]*importer.KindCounts) []string {
	known := []string{importer.KindBatch, importer.KindBatchStats, importer.KindHistoricBatch,
		importer.KindBatchOperation, importer.KindItem}
	var rest []string
	for k := range kinds {
		if !slices.Contains(known, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(known, rest...)
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return progress.Count(n) + " " + noun + "s"
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ---------------------------------------------------------------- demo

func runDemo(ctx context.Context, args []string, std *stdio, getenv func(string) string) int {
	def := demo.DefaultConfig()
	fs := newFlagSet("demo", `Usage: batchql demo [flags]

Writes a synthetic data set that obeys the engines' invariants: Camunda 7
batches, Camunda 8 batch operations with their items and errors. The data is
deterministic for a seed; records are upserted, so running it twice with the
same flags changes nothing.
`)
	db := addDBFlags(fs)
	batches := intFlag(fs, "batches", def.Batches, 0, "write `n` Camunda 7 batches")
	ops := intFlag(fs, "operations", def.Operations, 0, "write `n` Camunda 8 batch operations")
	items := intFlag(fs, "items-per-operation", def.ItemsPerOperation, 0, "give batch operations `n` items on average")
	seed := fs.Int64("seed", def.Seed, "`seed` of the random generator (the same seed gives the same data)")
	gcPercent := gcPercentFlag(fs, 400)
	prog := progressFlag(fs)
	if code := fs.parse(args, std, getenv); code >= 0 {
		return code
	}
	setGC(getenv, *gcPercent, 0)
	if fs.NArg() > 0 {
		fmt.Fprintf(std.err, "batchql demo: unexpected argument %q\n\n", fs.Arg(0))
		fs.printUsage(std.err)
		return exitUsage
	}
	store, code := db.open("demo", std)
	if code >= 0 {
		return code
	}
	defer store.Close()

	cfg := def
	cfg.Batches, cfg.Operations, cfg.ItemsPerOperation, cfg.Seed = *batches, *ops, *items, *seed
	bar := progressBar(*prog, std)
	if bar != nil {
		cfg.Progress = func(done, total int64) {
			bar.Update("demo", done, total, progress.Count(done)+" / "+progress.Count(total)+" records")
		}
	}
	st, err := demo.Write(ctx, store, cfg)
	if bar != nil {
		bar.Done()
	}
	if err != nil {
		fmt.Fprintf(std.err, "batchql demo: %v\n", err)
		return exitFail
	}
	size, err := store.Size()
	if err != nil {
		fmt.Fprintf(std.err, "batchql demo: %v\n", err)
		return exitFail
	}
	n := st.Batches + st.Operations + st.Items
	fmt.Fprintf(std.out, "demo: %s batches, %s batch operations, %s items (seed %d) in %s (%s records/s)\n",
		progress.Count(st.Batches), progress.Count(st.Operations), progress.Count(st.Items), cfg.Seed,
		st.Elapsed.Round(time.Millisecond), progress.Count(int64(rate(n, st.Elapsed))))
	fmt.Fprintf(std.out, "database %s: %s\n", *db.path, progress.Bytes(size))
	return exitOK
}
