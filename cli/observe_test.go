package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/metrics"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/web"
)

// A subscription over a WebSocket shows in /metrics as transport
// "websocket" (contract §12), read from the hub at the scrape.
func TestSubscriptionMetricsTransport(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "subs.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	hub := changes.New(store, changes.Options{})
	t.Cleanup(hub.Close)
	m := metrics.New(nil)
	m.WatchSubscriptions(subscriptionStats(hub))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(web.NewRouter(store, graph.Config{Subscriptions: hub}, nil, log, web.Options{Metrics: m, MetricsRoute: true}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
		&coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, conn.Write(ctx, coderws.MessageText, []byte(`{"type":"connection_init"}`)))
	_, ack, err := conn.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(ack), "connection_ack")
	require.NoError(t, conn.Write(ctx, coderws.MessageText,
		[]byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription { batchChanged { id } }"}}`)))

	scrape := func() string {
		resp, err := http.Get(srv.URL + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	require.Eventually(t, func() bool { return hub.Active()["ws"] == 1 }, 10*time.Second, 10*time.Millisecond,
		"the subscription starts")
	out := scrape()
	assert.Contains(t, out, `batchql_subscriptions_active{transport="websocket"} 1`+"\n")
	assert.Contains(t, out, `batchql_subscriptions_active{transport="sse"} 0`+"\n")
	assert.NotContains(t, out, `transport="ws"`)
}
