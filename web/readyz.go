package web

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/batchql/batchql/storage"
)

// Readiness says whether this server should get traffic and why not; body
// is added to /readyz's JSON (e.g. the replication's applied sequence and
// lag, contract §13).
type Readiness func() (ready bool, reason string, body map[string]any)

// withReadyz serves GET /readyz in front of h: 200 {"status":"ready"} when
// the store answers and ready (nil: always) says so, else 503
// {"status":"unavailable","reason":…}. Load balancers poll it, so it is not
// in the request log (h's); /healthz stays liveness.
func withReadyz(h http.Handler, store *storage.Store, ready Readiness, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		body := map[string]any{}
		ok, reason := true, ""
		if err := store.View(r.Context(), func(*storage.Reader) error { return nil }); err != nil {
			log.Error("readyz: read transaction failed", "err", err)
			ok, reason = false, "the database does not answer"
		} else if ready != nil {
			var extra map[string]any
			ok, reason, extra = ready()
			for k, v := range extra {
				body[k] = v
			}
		}
		body["status"] = "ready"
		if !ok {
			body["status"], body["reason"] = "unavailable", reason
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(body)
	})
	mux.Handle("/", h)
	return mux
}
