// Package web is batchql's HTTP surface: the routes of the GraphQL endpoint,
// /healthz and the GraphiQL playground, the access log, and the debug
// listener's pprof and expvar.
package web

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
)

// endpoints of the GraphQL API: /query is the historical one (and the one
// the playground uses), /graphql the conventional one. Both take GET and
// POST and share one handler.
var endpoints = []string{"/query", "/graphql"}

// NewRouter wires the HTTP routes and the request log. play serves the
// playground (GET / and /playground/...; see NewPlayground), nil for none.
// WithSecurity guards the GraphQL endpoints (security.go); /healthz and the
// playground page stay open.
func NewRouter(store *storage.Store, cfg graph.Config, play http.Handler, log *slog.Logger, opts ...Option) http.Handler {
	var o routerOptions
	for _, opt := range opts {
		opt(&o)
	}
	mux := http.NewServeMux()
	api := o.sec.Wrap(graph.NewHandler(store, cfg, log))
	for _, p := range endpoints {
		mux.Handle(p, api)
	}
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
