// Package web is batchql's HTTP surface: the routes of the GraphQL endpoint,
// /healthz, /metrics and the GraphiQL playground, the access log and request
// metrics, and the debug listener's pprof and expvar.
package web

import (
	"io"
	"log/slog"
	"net/http"
	"slices"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/metrics"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/tracing"
)

// endpoints of the GraphQL API: /query is the historical one (and the one
// the playground uses), /graphql the conventional one. Both take GET and
// POST and share one handler.
var endpoints = []string{"/query", "/graphql"}

// NewRouter wires the HTTP routes and the request log. play serves the
// playground (GET / and /playground/...; see NewPlayground), nil for none.
func NewRouter(store *storage.Store, cfg graph.Config, play http.Handler, log *slog.Logger) http.Handler {
	return NewObservedRouter(store, cfg, play, log, Observe{})
}

// Observe is a router's instrumentation; the zero value is none.
type Observe struct {
	// Metrics records the GraphQL requests; nil: not recorded.
	Metrics *metrics.Metrics
	// MetricsRoute serves Metrics at GET /metrics on this router (false
	// when they have a listener of their own, --metrics-addr).
	MetricsRoute bool
	// Tracing makes a span of each request, continuing the caller's
	// traceparent, and of each GraphQL operation and storage query; nil:
	// no spans.
	Tracing *tracing.Tracing
}

// NewObservedRouter is NewRouter with metrics and tracing.
func NewObservedRouter(store *storage.Store, cfg graph.Config, play http.Handler, log *slog.Logger, obs Observe) http.Handler {
	mux := http.NewServeMux()
	if obs.Tracing != nil {
		cfg.Tracer = obs.Tracing.Tracer()
	}
	api := graph.NewHandler(store, cfg, log)
	for _, p := range endpoints {
		mux.Handle(p, api)
	}
	mux.HandleFunc("GET /healthz", healthz(store, log))
	if obs.MetricsRoute && obs.Metrics != nil {
		mux.Handle("GET /metrics", obs.Metrics.Handler())
	}
	if play != nil {
		mux.Handle("GET /{$}", play)
		mux.Handle("GET "+playgroundAssetPrefix, play)
	}
	return obs.Tracing.Handler(observe(mux, log, obs.Metrics), append(slices.Clone(endpoints), "/healthz", "/metrics")...)
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
