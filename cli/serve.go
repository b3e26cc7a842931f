package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/metrics"
	"github.com/batchql/batchql/replication"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
	"github.com/batchql/batchql/tracing"
	"github.com/batchql/batchql/web"
)

const serveUsage = `Usage: batchql [serve] [flags]

Serves the GraphQL API at /query and /graphql (POST and GET; subscriptions
over WebSocket and SSE), the GraphiQL playground at /, GET /healthz
(liveness), GET /readyz (readiness) and GET /metrics (Prometheus); with
--import-token and/or --oidc-issuer (a token with the import scope), POST
/import takes files in the import command's formats (batchql import
--server URL FILE...); with --camunda8-url/--camunda7-url it keeps the
database current from the engines; with --nats it is one of several
servers fed by a NATS JetStream stream. Traces go to an OTLP/HTTP
collector when OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Stops gracefully on SIGINT or
SIGTERM.
`

// serveFlags are serve's flags.
type serveFlags struct {
	fs                                            *flagSet
	addr, debugAddr, metricsAddr                  *string
	db                                            dbFlags
	demo, introspection, play, playCDN, metricsOn *bool
	maxPage, maxSubs, subBuffer, maxImportBody    *int
	gcPercent, memLimit                           *int
	playAssets, format, importToken               *string
	level                                         *slog.Level
	shutdownTimeout                               *time.Duration
	lim                                           limitFlags
	sec                                           securityFlags
	sync                                          syncFlags
	repl                                          replicationFlags
}

func addServeFlags(fs *flagSet) *serveFlags {
	return &serveFlags{
		fs:              fs,
		addr:            fs.addr("addr", ":8080", false, "listen on `host:port`, e.g. :8080 (all interfaces) or 127.0.0.1:8080 (port 0 picks a free port)"),
		db:              addDBFlags(fs, defaultDB, "the bbolt database `file` (created when missing; with --demo the default is "+defaultDemoDB+", where the demo command writes)"),
		demo:            fs.Bool("demo", false, "fill an empty database with the demo data set before serving (a non-empty one is left alone)"),
		maxPage:         fs.intMin("max-page-size", 1000, 1, "largest `n` accepted for first/last"),
		maxSubs:         fs.intMin("max-subscriptions", changes.DefaultMaxSubscriptions, 1, "accept at most `n` subscriptions at once, over all WebSocket and SSE connections"),
		subBuffer:       fs.intMin("subscription-buffer", changes.DefaultBuffer, 1, "drop a subscriber (WebSocket close code 1013) when more than `n` changed records wait for it"),
		lim:             addLimitFlags(fs),
		introspection:   fs.Bool("introspection", true, "allow GraphQL introspection (__schema, __type); with --oidc-issuer the default is false (federation's _service { sdl } always works)"),
		sec:             addSecurityFlags(fs),
		play:            fs.Bool("playground", true, "serve the GraphiQL playground at / (else / is 404)"),
		playAssets:      fs.String("playground-assets", "", "load the playground's GraphiQL, React and ReactDOM from this node_modules `dir` (e.g. e2e/node_modules after npm ci) instead of the copies built into the binary, served at /playground/..."),
		playCDN:         fs.Bool("playground-cdn", false, "load the playground's GraphiQL, React and ReactDOM from cdn.jsdelivr.net (the same versions) instead of the copies built into the binary"),
		level:           fs.level("log-level", slog.LevelInfo, "log `level`: debug, info, warn or error"),
		format:          fs.choice("log-format", "text", []string{"text", "json"}, "log `format` on standard error: text or json"),
		shutdownTimeout: fs.Duration("shutdown-timeout", 10*time.Second, "on shutdown, let in-flight requests finish for up to this `duration`"),
		debugAddr:       fs.addr("debug-addr", "", true, "serve net/http/pprof (/debug/pprof/) and expvar (/debug/vars) on a separate listener at `host:port` (off when empty; keep it on loopback)"),
		metricsOn:       fs.Bool("metrics", true, "record Prometheus metrics and serve them at GET /metrics (on --metrics-addr when set, else on --addr)"),
		metricsAddr:     fs.addr("metrics-addr", "", true, "serve GET /metrics on a separate listener at `host:port` instead of on --addr (empty: on --addr)"),
		gcPercent:       gcPercentFlag(fs, 800),
		importToken:     fs.String("import-token", "", "enable POST /import for requests that send Authorization: Bearer `token` (off when empty; keep it secret: prefer the environment variable)"),
		maxImportBody:   fs.intMin("max-import-body", web.DefaultMaxImportBody, 1, "answer POST /import bodies larger than `bytes` with 413 (the body is spooled to a temp file in $TMPDIR)"),
		memLimit:        fs.intMin("memory-limit-mib", 256, 0, "soft limit of the Go runtime's memory in `MiB`: collect sooner when near it (GOMEMLIMIT, which wins when set; 0 = none); each WebSocket subscriber holds ~60 KiB, and at 96 MiB an import beside 1,000 of them ran at a quarter of its speed: raise it for thousands"),
		sync:            addSyncFlags(fs),
		repl:            addReplicationFlags(fs),
	}
}

func runServe(ctx context.Context, args []string, std *Stdio, getenv func(string) string) int {
	fs := newFlagSet("serve", serveUsage)
	f := addServeFlags(fs)
	if code := fs.parse(args, std, getenv); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.Err, "batchql serve: unexpected argument %q\n\n", fs.Arg(0))
		fs.printUsage(std.Err)
		return ExitUsage
	}
	syncCfg, err := f.check()
	if err != nil {
		fmt.Fprintf(std.Err, "batchql serve: %v\n", err)
		return ExitUsage
	}
	setGC(getenv, *f.gcPercent, *f.memLimit)
	play, err := f.playground()
	if err != nil {
		fmt.Fprintf(std.Err, "batchql serve: %v\n", err)
		return ExitUsage
	}
	log, logHandler := f.logger(std.Err)

	// The syncer is checked before the database is opened: a bad URL is a
	// usage error that creates no file.
	sy, applier, err := newSyncer(syncCfg, log)
	if err != nil {
		fmt.Fprintf(std.Err, "batchql serve: %v\n", err)
		return ExitUsage
	}

	store, code := f.db.open("serve", std)
	if code >= 0 {
		return code
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the database", "err", err)
		}
	}()
	if *f.demo {
		if err := fillDemo(ctx, store, log); err != nil {
			log.Error("demo data", "err", err)
			return ExitFail
		}
	}

	obs := web.Options{MetricsRoute: *f.metricsAddr == ""}
	if *f.metricsOn {
		obs.Metrics = metrics.New(metrics.StoreStats(store))
	}
	if obs.Tracing, err = tracing.Setup(ctx, getenv); err != nil {
		log.Error("tracing", "err", err)
		return ExitFail
	}
	defer flushTracing(obs.Tracing, log)
	gcfg := f.lim.config(graph.Config{MaxPageSize: *f.maxPage, Introspection: *f.introspection})
	if sy != nil {
		gcfg.SyncStatus = sy.Status
		obs.Metrics.WatchSync(syncStats(sy))
	}
	if obs.Security, _, err = f.sec.security(ctx, log); err != nil {
		log.Error("security", "err", err)
		return ExitUsage
	}

	ln, err := net.Listen("tcp", *f.addr)
	if err != nil {
		log.Error("listen", "addr", *f.addr, "err", err)
		return ExitFail
	}
	hub := changes.New(store, changes.Options{MaxSubscriptions: *f.maxSubs, Buffer: *f.subBuffer})
	defer hub.Close()
	obs.Metrics.WatchSubscriptions(subscriptionStats(hub))
	gcfg.Subscriptions = hub
	var streams sync.WaitGroup
	gcfg.Streams = &streams
	var node *replication.Node
	if *f.repl.urls != "" {
		if node, err = f.repl.start(ctx, store, ln.Addr().String(), log); err != nil {
			ln.Close()
			log.Error("replication", "err", err)
			return ExitFail
		}
		defer node.Close()
		obs.Ready = readiness(node)
		obs.Metrics.WatchReplication(replicationStats(node))
		if sy != nil {
			gcfg.SyncStatus = replicatedStatus(sy, node)
		}
	} else {
		applier.set(&syncer.StoreApplier{Store: store})
	}
	obs.Import = f.importOptions(obs, node)
	srv := f.server(web.NewRouter(store, gcfg, play, log, obs), logHandler)
	srv.RegisterOnShutdown(hub.Close) // ends the streams, which Shutdown would wait for
	stopAsides, err := f.listenAsides(obs.Metrics, log, logHandler)
	if err != nil {
		ln.Close()
		return ExitFail
	}
	defer stopAsides()
	f.logListening(ln.Addr(), obs, log)

	// The sync stops between write transactions when ctx ends (SIGTERM),
	// and before the store closes.
	stopSync, synced := startSync(ctx, sy, syncCfg, node, applier, log)
	defer func() { stopSync(); <-synced }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		log.Error("serve", "err", err)
		return ExitFail
	case <-ctx.Done():
	}
	stopSync()
	shutdown(srv, served, &streams, *f.shutdownTimeout, log)
	log.Info("stopped")
	return ExitOK
}

// check validates the flags without I/O (usage errors) and returns the
// syncer's configuration (nil without engines). It applies the defaults
// that depend on other flags: introspection off with OIDC, the demo
// database with --demo.
func (f *serveFlags) check() (*syncer.Config, error) {
	if err := f.lim.check(); err != nil {
		return nil, err
	}
	syncCfg, err := f.sync.config()
	if err != nil {
		return nil, err
	}
	if err := f.sec.check(); err != nil {
		return nil, err
	}
	if f.sec.enabled() && !f.fs.isSet("introspection") {
		*f.introspection = false // secure default: the schema is not open to anonymous probing
	}
	if *f.demo && *f.repl.urls != "" {
		return nil, errors.New("--demo writes only this server's database; with --nats every write goes through the stream (leave out --demo)")
	}
	if *f.demo && !f.fs.isSet("db") {
		*f.db.path = defaultDemoDB
	}
	return syncCfg, nil
}

// playground is the playground's handler, nil with --playground=false.
func (f *serveFlags) playground() (http.Handler, error) {
	if !*f.play {
		return nil, nil
	}
	return web.NewPlayground(web.PlaygroundOptions{AssetsDir: *f.playAssets, CDN: *f.playCDN})
}

// logger is the server's log on w, in --log-format at --log-level.
func (f *serveFlags) logger(w io.Writer) (*slog.Logger, slog.Handler) {
	var h slog.Handler
	opts := &slog.HandlerOptions{Level: f.level}
	if *f.format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h), h
}

// newSyncer returns the syncer of cfg (nil for none) and what it writes
// through, set once the database is open: the store, or with --nats the
// holder of the sync lease (syncApplier).
func newSyncer(cfg *syncer.Config, log *slog.Logger) (*syncer.Syncer, *syncApplier, error) {
	applier := &syncApplier{}
	if cfg == nil {
		return nil, applier, nil
	}
	cfg.Log = log
	sy, err := syncer.New(*cfg, applier)
	return sy, applier, err
}

// flushTracing sends the spans still buffered, for up to 5 s.
func flushTracing(t *tracing.Tracing, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		log.Warn("tracing: flushing spans", "err", err)
	}
}

// importOptions enable POST /import with --import-token and/or OIDC's
// import scope; with --nats (node not nil) its writes go through the
// stream.
func (f *serveFlags) importOptions(obs web.Options, node *replication.Node) *web.ImportOptions {
	o := &web.ImportOptions{Token: *f.importToken, MaxBody: int64(*f.maxImportBody), Observe: importMetrics(obs.Metrics),
		Guard: obs.Security.ImportGuard(*f.sec.importScope, *f.importToken)}
	if node != nil {
		o.Apply = importThrough(node)
	}
	return o
}

// replicationStats is what the replication metrics read of n at each
// scrape.
func replicationStats(n *replication.Node) func() (uint64, time.Duration) {
	return func() (uint64, time.Duration) { st := n.Status(); return st.Applied, st.Lag }
}

// server is the main listener's server with the limit flags' timeouts.
func (f *serveFlags) server(h http.Handler, logHandler slog.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: *f.lim.readHeaderTimeout,
		ReadTimeout:       *f.lim.readTimeout,
		WriteTimeout:      *f.lim.writeTimeout,
		IdleTimeout:       *f.lim.idleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(logHandler, slog.LevelWarn),
	}
}

// listenAsides starts the --debug-addr and --metrics-addr listeners that
// are set (logging a failure to listen); stop closes them.
func (f *serveFlags) listenAsides(met *metrics.Metrics, log *slog.Logger, logHandler slog.Handler) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, s := range slices.Backward(stops) {
			s()
		}
	}
	if *f.debugAddr != "" {
		s, err := listenAside("debug", *f.debugAddr, web.DebugMux(), log, logHandler)
		if err != nil {
			log.Error("listen", "debug_addr", *f.debugAddr, "err", err)
			return nil, err
		}
		stops = append(stops, s)
	}
	if *f.metricsAddr != "" && met != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", met.Handler())
		s, err := listenAside("metrics", *f.metricsAddr, mux, log, logHandler)
		if err != nil {
			stop()
			log.Error("listen", "metrics_addr", *f.metricsAddr, "err", err)
			return nil, err
		}
		stops = append(stops, s)
	}
	return stop, nil
}

// listenAside serves h on a listener of its own at addr (the debug and
// metrics listeners, named by name in the log); stop closes it.
func listenAside(name, addr string, h http.Handler, log *slog.Logger, logHandler slog.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logHandler, slog.LevelWarn)}
	go srv.Serve(ln)
	log.Info(name+" listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// logListening logs the main listener's address and the settings that
// shape what it serves.
func (f *serveFlags) logListening(addr net.Addr, obs web.Options, log *slog.Logger) {
	log.Info("listening", "addr", addr.String(), "db", *f.db.path,
		"playground", *f.play, "introspection", *f.introspection, "max_page_size", *f.maxPage,
		"max_complexity", *f.lim.maxComplexity, "request_timeout", *f.lim.requestTimeout, "import", obs.Import != nil && (obs.Import.Token != "" || obs.Import.Guard != nil),
		"metrics", *f.metricsOn, "tracing", obs.Tracing != nil,
		"oidc_issuer", *f.sec.issuer, "tenant_claim", *f.sec.tenantClaim, "cors_origins", *f.sec.corsOrigins, "rate_limit", *f.sec.rateLimit)
}

// startSync runs sy (nil: none) until ctx ends or stop is called, with
// --nats (node not nil) only while this server holds the sync lease;
// synced is closed once it has stopped.
func startSync(ctx context.Context, sy *syncer.Syncer, cfg *syncer.Config, node *replication.Node, app *syncApplier, log *slog.Logger) (stop context.CancelFunc, synced <-chan struct{}) {
	ctx, stop = context.WithCancel(ctx)
	done := make(chan struct{})
	if sy == nil {
		close(done)
		return stop, done
	}
	for _, st := range sy.Status() {
		log.Info("sync", "engine", st.Engine, "url", st.URL, "interval", cfg.Interval, "full_interval", cfg.FullInterval, "lease", node != nil)
	}
	go func() {
		defer close(done)
		if node == nil {
			sy.Run(ctx)
			return
		}
		syncUnderLease(ctx, sy, node, app, log)
	}()
	return stop, done
}

// shutdown stops srv gracefully within timeout (then closes what is left),
// waits for Serve to return on served, and lets the subscription streams,
// ended by the hub's close on shutdown, send their close messages before
// the process ends.
func shutdown(srv *http.Server, served <-chan error, streams *sync.WaitGroup, timeout time.Duration, log *slog.Logger) {
	log.Info("shutting down", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown: closing remaining connections", "err", err)
		srv.Close()
	}
	<-served
	waited := make(chan struct{})
	go func() { streams.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		log.Warn("shutdown: streams still open", "err", ctx.Err())
	}
}

// limitFlags are serve's query and HTTP limits.
type limitFlags struct {
	maxComplexity, maxDepth, maxAliases, maxRootFields, maxBody *int
	maxConcurrent                                               *int
	requestTimeout, readHeaderTimeout, readTimeout              *time.Duration
	writeTimeout, idleTimeout                                   *time.Duration
}

func addLimitFlags(fs *flagSet) limitFlags {
	return limitFlags{
		maxComplexity: fs.intMin("max-complexity", graph.DefaultMaxComplexity, 1,
			"reject operations that cost more than `n` (about the records they may return: page sizes multiply through nested connections)"),
		maxDepth:      fs.intMin("max-depth", graph.DefaultMaxDepth, 1, "reject operations that nest fields more than `n` levels deep"),
		maxAliases:    fs.intMin("max-aliases", graph.DefaultMaxAliases, 1, "reject operations with more than `n` aliased fields"),
		maxRootFields: fs.intMin("max-root-fields", graph.DefaultMaxRootFields, 1, "reject operations with more than `n` root fields"),
		maxBody:       fs.intMin("max-body", graph.DefaultMaxBodyBytes, 1024, "answer request bodies larger than `bytes` with 413"),
		maxConcurrent: fs.intMin("max-concurrent", 4*runtime.GOMAXPROCS(0), 1,
			"execute at most `n` requests at once; others wait for a slot within --request-timeout (default 4 × GOMAXPROCS)"),
		requestTimeout: fs.Duration("request-timeout", graph.DefaultRequestTimeout,
			"stop a request's database reads after this `duration` (the client gets COMPLEXITY_LIMIT_EXCEEDED)"),
		readHeaderTimeout: fs.Duration("read-header-timeout", 10*time.Second, "close connections that take longer than this `duration` to send a request's headers"),
		readTimeout:       fs.Duration("read-timeout", 60*time.Second, "close connections that take longer than this `duration` to send a whole request"),
		writeTimeout:      fs.Duration("write-timeout", 120*time.Second, "give up on a response not written within this `duration` of reading its request's headers"),
		idleTimeout:       fs.Duration("idle-timeout", 120*time.Second, "close keep-alive connections idle for this `duration`"),
	}
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
