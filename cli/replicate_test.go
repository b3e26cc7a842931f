package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/replication"
	"github.com/batchql/batchql/replication/natstest"
	"github.com/batchql/batchql/storage"
)

// runNATS starts an embedded nats-server with JetStream on a free
// loopback port; the test's end stops it.
func runNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	return natstest.Run(t, t.TempDir(), -1)
}

// Two servers with --nats apply what a third party publishes to the stream
// and end with the same database; /readyz reports the applied sequence.
func TestServeNATS(t *testing.T) {
	ns := runNATS(t)

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
	r = batchql(t, nil, "", "serve", "--db", filepath.Join(t.TempDir(), "x.db"), "--nats", "nats://127.0.0.1:1")
	assert.Equal(t, ExitFail, r.code)
	assert.Contains(t, r.stderr, "cannot connect to NATS at nats://127.0.0.1:1")
	r = batchql(t, nil, "", "serve", "--help")
	for _, f := range []string{"--nats urls", "--nats-stream name", "--nats-replicas n", "--max-lag duration", "BATCHQL_MAX_LAG"} {
		assert.Contains(t, r.stdout, f)
	}
}

// Two servers with --nats and the same engine: one holds the sync lease
// and syncs, both serve what it read; POST /import on the other goes
// through the stream to both; when the syncing server stops, the other
// takes the lease and syncs on (contract §13).
func TestServeNATSSyncsUnderLease(t *testing.T) {
	ns := runNATS(t)
	c8 := enginefake.NewCamunda8()
	fake := httptest.NewServer(c8)
	defer fake.Close()
	c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 3)

	dir := t.TempDir()
	args := func(db string) []string {
		return []string{"--db", filepath.Join(dir, db), "--nats", ns.ClientURL(), "--camunda8-url", fake.URL + "/v2",
			"--sync-interval", "50ms", "--import-token", "tok"}
	}
	a := startServer(t, nil, args("a.db")...)
	b := startServer(t, nil, args("b.db")...)

	type source struct {
		State                 string
		LastAttemptAt, Leader *string
		ReplicationLagSeconds *float64
	}
	type answer struct {
		SyncStatus     []source
		BatchOperation *struct {
			State string
			Items struct{ TotalCount int }
		}
	}
	const q = `{ syncStatus { state lastAttemptAt leader replicationLagSeconds }
		batchOperation(batchOperationKey: "2251799813685001") { state items { totalCount } } }`
	ask := func(s *server) answer {
		var got answer
		s.query(q, "", &got)
		return got
	}
	converged := func(state string) func() bool {
		return func() bool {
			for _, s := range []*server{a, b} {
				got := ask(s)
				if got.BatchOperation == nil || got.BatchOperation.State != state || got.BatchOperation.Items.TotalCount != 3 {
					return false
				}
			}
			return true
		}
	}
	require.Eventually(t, converged("CREATED"), 30*time.Second, 50*time.Millisecond, "A:\n%s\nB:\n%s", a.logs, b.logs)

	// Exactly one server syncs; both name it.
	var leader, follower *server
	var seen string // the last statuses, for the failure message
	named := assert.Eventually(t, func() bool {
		ga, gb := ask(a), ask(b)
		sa, _ := json.Marshal(ga.SyncStatus)
		sb, _ := json.Marshal(gb.SyncStatus)
		seen = fmt.Sprintf("A: %s\nB: %s", sa, sb)
		if len(ga.SyncStatus) != 1 || len(gb.SyncStatus) != 1 || ga.SyncStatus[0].Leader == nil || gb.SyncStatus[0].Leader == nil {
			return false
		}
		return *ga.SyncStatus[0].Leader == *gb.SyncStatus[0].Leader
	}, 30*time.Second, 50*time.Millisecond)
	if !named {
		t.Fatalf("the servers never named one leader:\n%s\nA:\n%s\nB:\n%s", seen, a.logs, b.logs)
	}
	if strings.Contains(a.logs.String(), "this server holds the sync lease") {
		leader, follower = a, b
	} else {
		leader, follower = b, a
	}
	assert.NotContains(t, follower.logs.String(), "this server holds the sync lease")
	lead, follow := ask(leader).SyncStatus[0], ask(follower).SyncStatus[0]
	assert.Equal(t, "OK", lead.State)
	assert.NotNil(t, lead.LastAttemptAt)
	assert.Equal(t, "STARTING", follow.State, "the follower never polled")
	assert.Nil(t, follow.LastAttemptAt)
	assert.Contains(t, leader.url, strings.SplitN(*lead.Leader, "/", 2)[1], "the leader's id ends with its address")
	require.NotNil(t, follow.ReplicationLagSeconds)

	// An import on the follower reaches both through the stream, and its
	// answer counts what this server applied.
	body := `{"batchOperationKey":"77","batchOperationType":"MIGRATE_PROCESS_INSTANCE","state":"COMPLETED","startDate":"2024-05-14T09:12:03Z"}`
	for i, want := range []string{`"new":1,"updated":0,"unchanged":0`, `"new":0,"updated":0,"unchanged":1`} {
		req, err := http.NewRequest("POST", follower.url+"/import", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, string(out))
		assert.Contains(t, string(out), `"batch operation":{`+want+`}`, "import %d: %s", i+1, out)
	}
	require.Eventually(t, func() bool {
		var got struct{ BatchOperation *struct{ State string } }
		leader.query(`{ batchOperation(batchOperationKey: "77") { state } }`, "", &got)
		return got.BatchOperation != nil && got.BatchOperation.State == "COMPLETED"
	}, 10*time.Second, 50*time.Millisecond)

	// The leader stops (and releases the lease): the follower takes over
	// and follows the engine on.
	require.Equal(t, 0, leader.stop())
	require.NoError(t, c8.Progress("2251799813685001", 3, 0))
	require.Eventually(t, func() bool {
		got := ask(follower)
		return got.BatchOperation.State == "COMPLETED" && len(got.SyncStatus) == 1 && got.SyncStatus[0].State == "OK" &&
			got.SyncStatus[0].Leader != nil && strings.HasSuffix(follower.url, strings.SplitN(*got.SyncStatus[0].Leader, "/", 2)[1])
	}, 30*time.Second, 50*time.Millisecond, "%s", follower.logs)
	assert.Contains(t, follower.logs.String(), "this server holds the sync lease")
	require.Equal(t, 0, follower.stop())
}

// Without --nats, /readyz is 200 while the store answers.
func TestReadyzWithoutReplication(t *testing.T) {
	s := startServer(t, nil, "--db", filepath.Join(t.TempDir(), "r.db"))
	resp, body := s.get("/readyz")
	assert.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, `{"status":"ready"}`, body)
}
