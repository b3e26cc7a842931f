package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/batchql/batchql/replication"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/web"
)

// replicationFlags are serve's contract §13 flags.
type replicationFlags struct {
	urls     *string
	stream   *string
	replicas *int
	maxLag   *time.Duration
}

func addReplicationFlags(fs *flagSet) replicationFlags {
	return replicationFlags{
		urls:     fs.String("nats", "", "replicate through NATS JetStream at these `urls` (comma-separated, e.g. nats://n1:4222,nats://n2:4222): writes are published to the stream and every server applies it to its own database"),
		stream:   fs.String("nats-stream", "batchql", "the JetStream stream `name` of the replicated writes (its lease bucket is NAME_lease)"),
		replicas: fs.intMin("nats-replicas", 1, 1, "replicas (`n`) of the stream and the lease bucket when this server creates them (3 for a 3-node NATS cluster)"),
		maxLag:   fs.Duration("max-lag", 5*time.Second, "with --nats, /readyz answers 503 until the server has applied the stream to its tail, and while it lags it by this `duration` or more"),
	}
}

// start connects to NATS and starts applying the stream; addr names this
// server in the sync lease.
func (f replicationFlags) start(ctx context.Context, store *storage.Store, addr string, log *slog.Logger) (*replication.Node, error) {
	if *f.maxLag <= 0 {
		return nil, fmt.Errorf("--max-lag must be positive (got %s)", *f.maxLag)
	}
	host, _ := os.Hostname()
	return replication.Start(ctx, store, replication.Config{
		URLs: *f.urls, Stream: *f.stream, Replicas: *f.replicas, MaxLag: *f.maxLag,
		ID: host + "/" + addr, Log: log,
	})
}

// readiness is /readyz for a replica (contract §13).
func readiness(n *replication.Node) web.Readiness {
	return func() (bool, string, map[string]any) {
		st := n.Status()
		body := map[string]any{
			"stream": st.Stream, "applied": st.Applied, "tail": st.Tail,
			"lagSeconds": st.Lag.Seconds(), "leader": st.Lease.Leader,
		}
		return st.Ready, st.Reason, body
	}
}
