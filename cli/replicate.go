package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/replication"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
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

// syncApplier is what the syncer writes through. The syncer is built
// before the database is opened (a bad engine URL is a usage error that
// creates no file), so its target is set later: the local store, or with
// --nats the replication.Leader of each term this server holds the sync
// lease, and nil between terms.
type syncApplier struct {
	mu sync.Mutex
	a  syncer.Applier
}

func (s *syncApplier) set(a syncer.Applier) {
	s.mu.Lock()
	s.a = a
	s.mu.Unlock()
}

// Apply implements syncer.Applier.
func (s *syncApplier) Apply(ctx context.Context, patches []*importer.Patch) (syncer.Result, error) {
	s.mu.Lock()
	a := s.a
	s.mu.Unlock()
	if a == nil {
		return syncer.Result{}, errors.New("this server does not hold the sync lease")
	}
	return a.Apply(ctx, patches)
}

// syncUnderLease runs sy while this server holds the sync lease, until
// ctx ends: among the servers with engine URLs one syncs at a time
// (contract §13), publishing its writes fenced by its term. Every term
// starts with a full reconciliation (Syncer.Run does), since the last
// leader may have died mid-poll.
func syncUnderLease(ctx context.Context, sy *syncer.Syncer, node *replication.Node, app *syncApplier, log *slog.Logger) {
	node.Lead(ctx, func(lctx context.Context, l *replication.Leader) {
		log.Info("sync: this server holds the sync lease", "term", l.Term)
		app.set(l)
		sy.Run(lctx)
		app.set(nil)
		if ctx.Err() == nil {
			log.Warn("sync: stopped: this server lost the sync lease", "term", l.Term)
		}
	})
}

// replicatedStatus is syncStatus with --nats: the syncer's sources with
// the lease's holder and this server's lag behind the stream.
func replicatedStatus(sy *syncer.Syncer, node *replication.Node) func() []syncer.Status {
	return func() []syncer.Status {
		out := sy.Status()
		st := node.Status()
		lag := st.Lag.Seconds()
		for i := range out {
			if st.Lease.Leader != "" {
				out[i].Leader = &st.Lease.Leader
			}
			out[i].ReplicationLagSeconds = &lag
		}
		return out
	}
}

// importThrough is POST /import's write with --nats: the patches are
// published to the stream, and the answer waits until this server has
// applied them (read your writes), so its counts are this server's.
func importThrough(node *replication.Node) func(context.Context, []*importer.Patch) (importer.Counts, error) {
	return func(ctx context.Context, patches []*importer.Patch) (importer.Counts, error) {
		res, err := node.Apply(ctx, patches)
		if err != nil {
			return nil, err
		}
		if len(res.Rejected) > 0 {
			r := res.Rejected[0]
			if r.Patch == nil {
				return nil, fmt.Errorf("%d records were not applied: %w", len(res.Rejected), r.Err)
			}
			return nil, fmt.Errorf("%d records were not applied, the first a %s %s: %w", len(res.Rejected), r.Patch.Kind(), r.Patch.Key(), r.Err)
		}
		return res.Counts, nil
	}
}
