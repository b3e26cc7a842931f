package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/replication"
	"github.com/batchql/batchql/storage"
)

// Two servers with --nats apply what a third party publishes to the stream
// and end with the same database; /readyz reports the applied sequence.
func TestServeNATS(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	defer ns.Shutdown()

	dir := t.TempDir()
	dbA, dbB := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	a := startServer(t, nil, "--db", dbA, "--nats", ns.ClientURL(), "--nats-stream", "repl")
	b := startServer(t, []string{"BATCHQL_NATS=" + ns.ClientURL(), "BATCHQL_NATS_STREAM=repl", "BATCHQL_MAX_LAG=2s"}, "--db", dbB)

	// A writer: a replica of its own that publishes.
	ctx := context.Background()
	ws, err := storage.Open(filepath.Join(dir, "w.db"), storage.Options{NoSync: true})
	require.NoError(t, err)
	defer ws.Close()
	w, err := replication.Start(ctx, ws, replication.Config{URLs: ns.ClientURL(), Stream: "repl", ID: "writer"})
	require.NoError(t, err)
	defer w.Close()
	var ps []*importer.Patch
	for i := range 30 {
		p := new(importer.Patch)
		rec := fmt.Sprintf(`{"batchOperationKey":"%d","batchOperationType":"MIGRATE_PROCESS_INSTANCE","state":"ACTIVE","startDate":"2024-05-14T09:12:03Z"}`, 100+i)
		require.NoError(t, p.UnmarshalJSON([]byte(rec)))
		ps = append(ps, p)
	}
	res, err := w.Apply(ctx, ps)
	require.NoError(t, err)
	require.Equal(t, 30, res.Written)
	last := w.Status().Applied

	for _, s := range []*server{a, b} {
		require.Eventually(t, func() bool {
			resp, body := s.get("/readyz")
			var r struct {
				Applied uint64 `json:"applied"`
			}
			return resp.StatusCode == 200 && json.Unmarshal([]byte(body), &r) == nil && r.Applied == last
		}, 20*time.Second, 50*time.Millisecond, "%s ready at %d", s.url, last)
		var page opsPage
		s.query(opsQuery, "FirstOps", &page)
		assert.Equal(t, 30, page.BatchOperations.TotalCount)
	}
	require.Equal(t, 0, a.stop())
	require.Equal(t, 0, b.stop())
	ha, ca := dbState(t, dbA)
	hb, cb := dbState(t, dbB)
	assert.Equal(t, ha, hb, "the replicas' files hold the same buckets")
	assert.Equal(t, ca, cb)
}

func TestServeNATSFlags(t *testing.T) {
	r := batchql(t, nil, "", "serve", "--demo", "--nats", "nats://127.0.0.1:1")
	assert.Equal(t, ExitUsage, r.code)
	assert.Contains(t, r.stderr, "--demo writes only this server's database")
	// Writers that do not publish to the stream yet are refused, before
	// any database file is made.
	for _, args := range [][]string{
		{"--camunda8-url", "http://127.0.0.1:1/v2"},
		{"--camunda7-url", "http://127.0.0.1:1/engine-rest"},
		{"--import-token", "t"},
	} {
		db := filepath.Join(t.TempDir(), "w.db")
		r := batchql(t, nil, "", append([]string{"serve", "--db", db, "--nats", "nats://127.0.0.1:1"}, args...)...)
		assert.Equal(t, ExitUsage, r.code, args)
		assert.Contains(t, r.stderr, "--nats does not take writes on this server yet", args)
		assert.NoFileExists(t, db, args)
	}
	r = batchql(t, nil, "", "serve", "--db", filepath.Join(t.TempDir(), "x.db"), "--nats", "nats://127.0.0.1:1")
	assert.Equal(t, ExitFail, r.code)
	assert.Contains(t, r.stderr, "cannot connect to NATS at nats://127.0.0.1:1")
	r = batchql(t, nil, "", "serve", "--help")
	for _, f := range []string{"--nats urls", "--nats-stream name", "--nats-replicas n", "--max-lag duration", "BATCHQL_MAX_LAG"} {
		assert.Contains(t, r.stdout, f)
	}
}

// Without --nats, /readyz is 200 while the store answers.
func TestReadyzWithoutReplication(t *testing.T) {
	s := startServer(t, nil, "--db", filepath.Join(t.TempDir(), "r.db"))
	resp, body := s.get("/readyz")
	assert.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, `{"status":"ready"}`, body)
}
