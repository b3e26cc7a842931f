// Package web is batchql's HTTP surface: the routes of the GraphQL endpoint,
// /healthz, /metrics, POST /import and the GraphiQL playground, the access
// log and request metrics, and the debug listener's pprof and expvar.
package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/metrics"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
	"github.com/batchql/batchql/tracing"
)

// endpoints of the GraphQL API: /query is the historical one (and the one
// the playground uses), /graphql the conventional one. Both take GET and
// POST and share one handler.
var endpoints = []string{"/query", "/graphql"}

// Options are a router's optional parts; the zero value has none of them.
type Options struct {
	// Import enables POST /import (nil, or neither token nor guard: 404).
	Import *ImportOptions
	// Metrics records the requests; nil: not recorded.
	Metrics *metrics.Metrics
	// MetricsRoute serves Metrics at GET /metrics on this router (false
	// when they have a listener of their own, --metrics-addr).
	MetricsRoute bool
	// Tracing makes a span of each request, continuing the caller's
	// traceparent, and of each GraphQL operation and storage query; nil:
	// no spans.
	Tracing *tracing.Tracing
	// Security guards the GraphQL endpoints (security.go), HTTP requests
	// and WebSocket connections alike (NewRouter sets graph.Config's
	// WebSocketInit and WebSocketOrigin from it when they are nil); the zero
	// value guards nothing. /healthz, /readyz, /metrics and the playground
	// page stay open.
	Security Security
	// Ready adds its verdict and figures to GET /readyz (a replica's
	// position in the stream); nil: ready while the store answers.
	Ready Readiness
}

// NewRouter wires the HTTP routes, the request log and metrics; GET
// /readyz is outside the log (see withReadyz). play
// serves the playground (GET / and /playground/...; see NewPlayground), nil
// for none.
func NewRouter(store *storage.Store, cfg graph.Config, play http.Handler, log *slog.Logger, opt Options) http.Handler {
	mux := http.NewServeMux()
	if opt.Tracing != nil {
		cfg.Tracer = opt.Tracing.Tracer()
	}
	if cfg.WebSocketInit == nil {
		cfg.WebSocketInit = opt.Security.graphQLWebSocketInit()
	}
	if cfg.StreamExpiry == nil && opt.Security.Verifier != nil {
		cfg.StreamExpiry = callerExpiry
	}
	if cfg.WebSocketOrigin == nil {
		cfg.WebSocketOrigin = opt.Security.CheckOrigin
	}
	api := opt.Security.Wrap(graph.NewHandler(store, cfg, log))
	for _, p := range endpoints {
		mux.Handle(p, api)
	}
	mux.HandleFunc("GET /healthz", healthz(store, cfg.SyncStatus, log))
	if opt.Import != nil && opt.Import.enabled() {
		mux.Handle("POST /import", newImportHandler(store, *opt.Import, log))
	}
	if opt.MetricsRoute && opt.Metrics != nil {
		mux.Handle("GET /metrics", opt.Metrics.Handler())
	}
	if play != nil {
		mux.Handle("GET /{$}", play)
		mux.Handle("GET "+playgroundAssetPrefix, play)
	}
	h := opt.Tracing.Handler(observe(mux, log, opt.Metrics), append(slices.Clone(endpoints), "/healthz", "/metrics", "/import")...)
	return withReadyz(h, store, opt.Ready, log)
}

// healthz is liveness: 200 while the store answers. With live sync its body
// adds each source's state and lastSuccessAt (contract §8); a failing
// engine does not make the server unhealthy.
func healthz(store *storage.Store, sync func() []syncer.Status, log *slog.Logger) http.HandlerFunc {
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
		if sync == nil {
			io.WriteString(w, `{"status":"ok"}`+"\n")
			return
		}
		type source struct {
			Engine        syncer.Engine `json:"engine"`
			URL           string        `json:"url"`
			State         syncer.State  `json:"state"`
			LastSuccessAt *string       `json:"lastSuccessAt"`
		}
		body := struct {
			Status string   `json:"status"`
			Sync   []source `json:"sync"`
		}{Status: "ok", Sync: []source{}}
		for _, st := range sync() {
			s := source{Engine: st.Engine, URL: st.URL, State: st.State}
			if st.LastSuccessAt != nil {
				t := model.FormatDateTime(*st.LastSuccessAt)
				s.LastSuccessAt = &t
			}
			body.Sync = append(body.Sync, s)
		}
		_ = json.NewEncoder(w).Encode(body)
	}
}
