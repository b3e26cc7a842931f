package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/metrics"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
	"github.com/batchql/batchql/tracing"
	"github.com/batchql/batchql/web"
)

func runServe(ctx context.Context, args []string, std *Stdio, getenv func(string) string) int {
	fs := newFlagSet("serve", `Usage: batchql [serve] [flags]

Serves the GraphQL API at /query and /graphql (POST and GET; subscriptions
over WebSocket and SSE), the GraphiQL
playground at /, GET /healthz and GET /metrics (Prometheus); with
--import-token, POST /import takes files in the import command's formats
(batchql import --server URL FILE...); with --camunda8-url/--camunda7-url it
keeps the database current from the engines. Traces go to an OTLP/HTTP
collector when OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Stops gracefully on SIGINT or
SIGTERM.
`)
	addr := fs.addr("addr", ":8080", false, "listen on `host:port`, e.g. :8080 (all interfaces) or 127.0.0.1:8080 (port 0 picks a free port)")
	db := addDBFlags(fs, defaultDB, "the bbolt database `file` (created when missing; with --demo the default is "+defaultDemoDB+", where the demo command writes)")
	demo := fs.Bool("demo", false, "fill an empty database with the demo data set before serving (a non-empty one is left alone)")
	maxPage := fs.intMin("max-page-size", 1000, 1, "largest `n` accepted for first/last")
	maxSubs := fs.intMin("max-subscriptions", changes.DefaultMaxSubscriptions, 1, "accept at most `n` subscriptions at once, over all WebSocket and SSE connections")
	subBuffer := fs.intMin("subscription-buffer", changes.DefaultBuffer, 1, "drop a subscriber (WebSocket close code 1013) when more than `n` changed records wait for it")
	lim := addLimitFlags(fs)
	introspection := fs.Bool("introspection", true, "allow GraphQL introspection (__schema, __type); with --oidc-issuer the default is false (federation's _service { sdl } always works)")
	secFlags := addSecurityFlags(fs)
	play := fs.Bool("playground", true, "serve the GraphiQL playground at / (else / is 404)")
	playAssets := fs.String("playground-assets", "", "load the playground's GraphiQL, React and ReactDOM from this node_modules `dir` (e.g. e2e/node_modules after npm ci) instead of the copies built into the binary, served at /playground/...")
	playCDN := fs.Bool("playground-cdn", false, "load the playground's GraphiQL, React and ReactDOM from cdn.jsdelivr.net (the same versions) instead of the copies built into the binary")
	level := fs.level("log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	format := fs.choice("log-format", "text", []string{"text", "json"}, "log `format` on standard error: text or json")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on shutdown, let in-flight requests finish for up to this `duration`")
	debugAddr := fs.addr("debug-addr", "", true, "serve net/http/pprof (/debug/pprof/) and expvar (/debug/vars) on a separate listener at `host:port` (off when empty; keep it on loopback)")
	metricsOn := fs.Bool("metrics", true, "record Prometheus metrics and serve them at GET /metrics (on --metrics-addr when set, else on --addr)")
	metricsAddr := fs.addr("metrics-addr", "", true, "serve GET /metrics on a separate listener at `host:port` instead of on --addr (empty: on --addr)")
	gcPercent := gcPercentFlag(fs, 800)
	importToken := fs.String("import-token", "", "enable POST /import for requests that send Authorization: Bearer `token` (off when empty; keep it secret: prefer the environment variable)")
	maxImportBody := fs.intMin("max-import-body", web.DefaultMaxImportBody, 1, "answer POST /import bodies larger than `bytes` with 413 (the body is spooled to a temp file in $TMPDIR)")
	memLimit := fs.intMin("memory-limit-mib", 96, 0, "soft limit of the Go runtime's memory in `MiB`: collect sooner when near it (GOMEMLIMIT, which wins when set; 0 = none)")
	syncF := addSyncFlags(fs)
	repl := addReplicationFlags(fs)
	if code := fs.parse(args, std, getenv); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.Err, "batchql serve: unexpected argument %q\n\n", fs.Arg(0))
		fs.printUsage(std.Err)
		return ExitUsage
	}
	if err := lim.check(); err != nil {
		fmt.Fprintf(std.Err, "batchql serve: %v\n", err)
		return ExitUsage
	}
	syncCfg, err := syncF.config()
	if err != nil {
		fmt.Fprintf(std.Err, "batchql serve: %v\n", err)
		return ExitUsage
	}
	if err := secFlags.check(); err != nil {
		fmt.Fprintf(std.Err, "batchql serve: %v\n", err)
		return ExitUsage
	}
	if secFlags.enabled() && !fs.isSet("introspection") {
		*introspection = false // secure default: the schema is not open to anonymous probing
	}
	if *repl.urls != "" && (syncCfg != nil || *importToken != "") {
		// The syncer and POST /import still write this server's database
		// directly; until they publish to the stream, a replica that took
		// writes would drift from the others.
		fmt.Fprintf(std.Err, "batchql serve: --nats does not take writes on this server yet: leave out --camunda8-url, --camunda7-url and --import-token (write to the stream with replication's publisher)\n")
		return ExitUsage
	}
	if *demo && *repl.urls != "" {
		fmt.Fprintf(std.Err, "batchql serve: --demo writes only this server's database; with --nats every write goes through the stream (leave out --demo)\n")
		return ExitUsage
	}
	if *demo && !fs.isSet("db") {
		*db.path = defaultDemoDB
	}
	setGC(getenv, *gcPercent, *memLimit)
	var playHandler http.Handler
	if *play {
		if playHandler, err = web.NewPlayground(web.PlaygroundOptions{AssetsDir: *playAssets, CDN: *playCDN}); err != nil {
			fmt.Fprintf(std.Err, "batchql serve: %v\n", err)
			return ExitUsage
		}
	}

	var h slog.Handler
	hopts := &slog.HandlerOptions{Level: level}
	if *format == "json" {
		h = slog.NewJSONHandler(std.Err, hopts)
	} else {
		h = slog.NewTextHandler(std.Err, hopts)
	}
	log := slog.New(h)

	// The syncer is checked before the database is opened: a bad URL is a
	// usage error that creates no file.
	var sy *syncer.Syncer
	applier := &syncer.StoreApplier{}
	if syncCfg != nil {
		syncCfg.Log = log
		if sy, err = syncer.New(*syncCfg, applier); err != nil {
			fmt.Fprintf(std.Err, "batchql serve: %v\n", err)
			return ExitUsage
		}
	}

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
			return ExitFail
		}
	}

	obs := web.Options{MetricsRoute: *metricsAddr == ""}
	if *metricsOn {
		obs.Metrics = metrics.New(metrics.StoreStats(store))
	}
	if obs.Tracing, err = tracing.Setup(ctx, getenv); err != nil {
		log.Error("tracing", "err", err)
		return ExitFail
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := obs.Tracing.Shutdown(sctx); err != nil {
			log.Warn("tracing: flushing spans", "err", err)
		}
	}()
	gcfg := lim.config(graph.Config{MaxPageSize: *maxPage, Introspection: *introspection})
	if sy != nil {
		applier.Store = store
		gcfg.SyncStatus = sy.Status
		obs.Metrics.WatchSync(syncStats(sy))
	}
	if obs.Security, _, err = secFlags.security(ctx, log); err != nil {
		log.Error("security", "err", err)
		return ExitUsage
	}
	obs.Import = &web.ImportOptions{Token: *importToken, MaxBody: int64(*maxImportBody), Observe: importMetrics(obs.Metrics),
		Guard: obs.Security.ImportGuard(*secFlags.importScope, *importToken)}
	if *repl.urls != "" {
		obs.Import = nil // no local writes on a replica (see above); /import is 404
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "addr", *addr, "err", err)
		return ExitFail
	}
	hub := changes.New(store, changes.Options{MaxSubscriptions: *maxSubs, Buffer: *subBuffer})
	defer hub.Close()
	obs.Metrics.WatchSubscriptions(subscriptionStats(hub))
	gcfg.Subscriptions = hub
	var streams sync.WaitGroup
	gcfg.Streams = &streams
	gcfg.WebSocketInit = obs.Security.GraphQLWebSocketInit()
	gcfg.WebSocketOrigin = obs.Security.CheckOrigin
	handler := web.NewRouter(store, gcfg, playHandler, log, obs)
	var ready web.Readiness
	if *repl.urls != "" {
		node, err := repl.start(ctx, store, ln.Addr().String(), log)
		if err != nil {
			ln.Close()
			log.Error("replication", "err", err)
			return ExitFail
		}
		defer node.Close()
		ready = readiness(node)
		obs.Metrics.WatchReplication(func() (uint64, time.Duration) { st := node.Status(); return st.Applied, st.Lag })
	}
	srv := &http.Server{
		Handler:           web.WithReadyz(handler, store, ready, log),
		ReadHeaderTimeout: *lim.readHeaderTimeout,
		ReadTimeout:       *lim.readTimeout,
		WriteTimeout:      *lim.writeTimeout,
		IdleTimeout:       *lim.idleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(h, slog.LevelWarn),
	}
	srv.RegisterOnShutdown(hub.Close) // ends the streams, which Shutdown would wait for
	if *debugAddr != "" {
		dln, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			ln.Close()
			log.Error("listen", "debug_addr", *debugAddr, "err", err)
			return ExitFail
		}
		dsrv := &http.Server{Handler: web.DebugMux(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}
		go dsrv.Serve(dln)
		defer dsrv.Close()
		log.Info("debug listening", "addr", dln.Addr().String())
	}
	if *metricsAddr != "" && obs.Metrics != nil {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			log.Error("listen", "metrics_addr", *metricsAddr, "err", err)
			return ExitFail
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", obs.Metrics.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}
		go msrv.Serve(mln)
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	log.Info("listening", "addr", ln.Addr().String(), "db", *db.path,
		"playground", *play, "introspection", *introspection, "max_page_size", *maxPage,
		"max_complexity", *lim.maxComplexity, "request_timeout", *lim.requestTimeout, "import", *importToken != "",
		"metrics", *metricsOn, "tracing", obs.Tracing != nil,
		"oidc_issuer", *secFlags.issuer, "tenant_claim", *secFlags.tenantClaim, "cors_origins", *secFlags.corsOrigins, "rate_limit", *secFlags.rateLimit)

	// The sync stops between write transactions when ctx ends (SIGTERM),
	// and before the store closes.
	syncCtx, stopSync := context.WithCancel(ctx)
	synced := make(chan struct{})
	if sy != nil {
		for _, st := range sy.Status() {
			log.Info("sync", "engine", st.Engine, "url", st.URL, "interval", syncCfg.Interval, "full_interval", syncCfg.FullInterval)
		}
		go func() { defer close(synced); sy.Run(syncCtx) }()
	} else {
		close(synced)
	}
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
	log.Info("shutting down", "timeout", *shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: closing remaining connections", "err", err)
		srv.Close()
	}
	<-served
	// hub.Close (on shutdown) ended the subscriptions; let their streams
	// send their close messages before the process ends.
	waited := make(chan struct{})
	go func() { streams.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-sctx.Done():
		log.Warn("shutdown: streams still open", "err", sctx.Err())
	}
	log.Info("stopped")
	return ExitOK
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
