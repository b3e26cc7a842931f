package replication

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/replication/natstest"
	"github.com/batchql/batchql/storage"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// runNATS starts an embedded NATS server with JetStream in a temp dir.
func runNATS(t testing.TB) *server.Server {
	t.Helper()
	return natstest.Run(t, t.TempDir(), -1)
}

func openStore(t *testing.T, path string) *storage.Store {
	t.Helper()
	s, err := storage.Open(path, storage.Options{NoSync: true})
	require.NoError(t, err)
	return s
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startNode starts a Node on a fresh or existing store file.
func startNode(t *testing.T, ns *server.Server, store *storage.Store, id string, tune func(*Config)) *Node {
	t.Helper()
	cfg := Config{URLs: ns.ClientURL(), ID: id, Log: testLog(t).With("node", id), TailEvery: 100 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	n, err := Start(context.Background(), store, cfg)
	require.NoError(t, err)
	return n
}

// newNode opens a fresh store named id.db and starts a Node on it; the
// test's end closes the node, then the store.
func newNode(t *testing.T, ns *server.Server, id string, tune func(*Config)) (*Node, *storage.Store) {
	t.Helper()
	s := openStore(t, tempDB(t, id+".db"))
	t.Cleanup(func() { s.Close() })
	n := startNode(t, ns, s, id, tune)
	t.Cleanup(n.Close)
	return n, s
}

func opJSON(key, state string, completed int) string {
	return fmt.Sprintf(`{"batchOperationKey":%q,"batchOperationType":"CANCEL_PROCESS_INSTANCE","state":%q,"startDate":"2024-05-14T09:12:03.417Z","operationsTotalCount":100,"operationsCompletedCount":%d,"operationsFailedCount":0}`, key, state, completed)
}

func itemJSON(op string, item int, state string) string {
	return fmt.Sprintf(`{"batchOperationKey":%q,"itemKey":"%d","processInstanceKey":"%d","state":%q}`, op, item, 2251799813685248+item, state)
}

// patches decodes engine records, one a string.
func patches(t *testing.T, recs ...string) []*importer.Patch {
	t.Helper()
	out := make([]*importer.Patch, len(recs))
	for i, r := range recs {
		out[i] = new(importer.Patch)
		require.NoError(t, out[i].UnmarshalJSON([]byte(r)), r)
	}
	return out
}

// workload is n rounds of writes over ops operations: each round moves
// items along and updates the operation's counts, so later messages
// overwrite earlier ones and the order matters.
func workload(ops, items, rounds int) [][]string {
	states := []string{"ACTIVE", "ACTIVE", "COMPLETED"}
	var out [][]string
	for r := range rounds {
		var batch []string
		for o := range ops {
			key := fmt.Sprintf("%d", 2251799813690000+o)
			st := "ACTIVE"
			if r == rounds-1 {
				st = "COMPLETED"
			}
			batch = append(batch, opJSON(key, st, r*items))
			for i := range items {
				batch = append(batch, itemJSON(key, o*10000+i, states[min(r, len(states)-1)]))
			}
		}
		out = append(out, batch)
	}
	return out
}

// dump is every bucket of a store, key by key, as "bucket\x00key" → value.
func dump(t *testing.T, s *storage.Store, skipMeta bool) []string {
	t.Helper()
	var out []string
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if skipMeta && string(name) == "meta" && bytes.HasPrefix(k, []byte("applied/")) {
					return nil
				}
				out = append(out, fmt.Sprintf("%s\x00%x\x00%x", name, k, v))
				return nil
			})
		})
	}))
	return out
}

func opState(t *testing.T, s *storage.Store, key string) (string, int) {
	t.Helper()
	var st string
	var n int
	require.NoError(t, s.View(context.Background(), func(r *storage.Reader) error {
		o, err := r.BatchOperation(key)
		if err != nil || o == nil {
			return fmt.Errorf("operation %s: %v", key, err)
		}
		st, n = string(o.State), int(o.OperationsCompletedCount)
		return nil
	}))
	return st, n
}

func appliedOf(t *testing.T, s *storage.Store) storage.Applied {
	t.Helper()
	var a storage.Applied
	require.NoError(t, s.View(context.Background(), func(r *storage.Reader) error {
		var err error
		a, err = r.Applied("batchql")
		return err
	}))
	return a
}

func tempDB(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }
