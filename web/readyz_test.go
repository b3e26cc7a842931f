package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadyz(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "r.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	defer store.Close()
	log := slog.New(slog.DiscardHandler)
	lagging := func() (bool, string, map[string]any) {
		return false, "lagging 7s behind the stream (max 5s)", map[string]any{"lagSeconds": 7.0}
	}
	for _, c := range []struct {
		name   string
		ready  Readiness
		code   int
		status string
		reason string
	}{
		{"no replication", nil, 200, "ready", ""},
		{"caught up", func() (bool, string, map[string]any) { return true, "", map[string]any{"lagSeconds": 0.0} }, 200, "ready", ""},
		{"lagging", lagging, 503, "unavailable", "lagging 7s behind the stream (max 5s)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(NewRouter(store, graph.Config{}, nil, log, Options{Ready: c.ready}))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/readyz")
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, c.code, resp.StatusCode)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, c.status, body["status"])
			if c.reason != "" {
				assert.Equal(t, c.reason, body["reason"])
				assert.Equal(t, 7.0, body["lagSeconds"])
			}
			// The rest of the routes are the router's.
			h, err := http.Get(srv.URL + "/healthz")
			require.NoError(t, err)
			h.Body.Close()
			assert.Equal(t, 200, h.StatusCode)
		})
	}
}
