package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
)

// /healthz stays 200 whatever the engines do, and adds each sync source's
// state and lastSuccessAt; without sync the body is as before.
func TestHealthzSyncSources(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "h.db"), storage.Options{})
	require.NoError(t, err)
	defer store.Close()
	ok := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	msg := "POST http://c8/v2/batch-operations/search: dial tcp: connection refused"
	status := []syncer.Status{
		{Engine: syncer.Camunda8, URL: "http://c8/v2", State: syncer.Failing, LastSuccessAt: &ok, LastError: &msg},
		{Engine: syncer.Camunda7, URL: "http://c7/engine-rest", State: syncer.Starting},
	}
	for _, tc := range []struct {
		name string
		sync func() []syncer.Status
		want string
	}{
		{"no sync", nil, `{"status":"ok"}`},
		{"two sources", func() []syncer.Status { return status },
			`{"status":"ok","sync":[{"engine":"CAMUNDA8","url":"http://c8/v2","state":"FAILING","lastSuccessAt":"2026-03-01T12:00:00.123Z"},` +
				`{"engine":"CAMUNDA7","url":"http://c7/engine-rest","state":"STARTING","lastSuccessAt":null}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewRouter(store, graph.Config{SyncStatus: tc.sync}, nil, slog.New(slog.DiscardHandler), Options{})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.JSONEq(t, tc.want, rec.Body.String())

			rec = httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{ syncStatus { engine state lastError } }"}`))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			var out struct {
				Data struct{ SyncStatus []map[string]any } `json:"data"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
			assert.Len(t, out.Data.SyncStatus, len(status)*boolInt(tc.sync != nil))
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
