package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config is a server's replication setup (contract §13).
type Config struct {
	URLs     string        // --nats: comma-separated NATS server URLs
	Stream   string        // --nats-stream (default "batchql")
	Replicas int           // --nats-replicas: stream replicas when this server creates the stream (default 1)
	MaxLag   time.Duration // --max-lag: readiness bound (default 5s)
	ID       string        // this server's name in the lease (default host-pid)
	// LeaseTTL and LeaseRenew time the sync lease (defaults 10s and 3s).
	LeaseTTL, LeaseRenew time.Duration
	// TailEvery is the period of the check of the stream's tail (default 1s).
	TailEvery time.Duration
	Log       *slog.Logger
}

func (c *Config) defaults() {
	if c.Stream == "" {
		c.Stream = "batchql"
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxLag <= 0 {
		c.MaxLag = 5 * time.Second
	}
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.LeaseRenew <= 0 {
		c.LeaseRenew = 3 * time.Second
	}
	if c.TailEvery <= 0 {
		c.TailEvery = time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Node is one server's replication: it applies the stream to the local
// store, publishes writes, and competes for the sync lease.
type Node struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	ap     *applier
	pub    *publisher
	lease  *lease
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	tail      uint64    // the stream's last sequence at the last check
	checkedAt time.Time // when the tail was last read
	behindAt  time.Time // publish time of the first message not applied (zero when caught up)
	caughtUp  bool      // applied reached a checked tail since start
	gap       string    // why the stream cannot be applied (purged past the database)

	restarts atomic.Uint64 // consumer restarts after an error
}

// Subject is where the stream's messages are published.
func subject(stream string) string { return stream + ".patches" }

// Start connects to NATS, creates the stream and the lease bucket when they
// are missing, and starts applying the stream to store from the sequence
// after the stored one. Close stops it.
func Start(ctx context.Context, store *storage.Store, cfg Config) (*Node, error) {
	cfg.defaults()
	log := cfg.Log
	nc, err := nats.Connect(cfg.URLs,
		nats.Name("batchql "+cfg.ID),
		nats.MaxReconnects(-1),
		// NATS may start after the server (one deploy script, a reboot):
		// ensure below waits for it.
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("replication: NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("replication: NATS reconnected", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("replication: connect to NATS %s: %w", cfg.URLs, err)
	}
	n := &Node{cfg: cfg, nc: nc}
	if n.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("replication: %w", err)
	}
	if err := n.ensure(ctx); err != nil {
		connected := nc.IsConnected()
		nc.Close()
		if !connected {
			return nil, fmt.Errorf("replication: cannot connect to NATS at %s: %w", cfg.URLs, err)
		}
		return nil, err
	}
	if n.ap, err = newApplier(ctx, store, cfg.Stream, log); err != nil {
		nc.Close()
		return nil, err
	}
	n.pub = newPublisher(n.js, subject(cfg.Stream))
	rctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.consumeLoop(rctx) }()
	go func() { defer n.wg.Done(); n.tailLoop(rctx) }()
	log.Info("replication: started", "nats", nc.ConnectedUrlRedacted(), "stream", cfg.Stream, "applied", n.ap.applied().Seq, "id", cfg.ID)
	return n, nil
}

// ensure finds or creates the stream and the lease bucket; a server that
// creates them gives them cfg.Replicas replicas. It waits up to 20 s for
// NATS (starting, or a cluster still electing its JetStream leader).
func (n *Node) ensure(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	bucket := n.cfg.Stream + "_lease"
	var err error
	for {
		err = n.ensureOnce(ctx, bucket)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (n *Node) ensureOnce(ctx context.Context, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var err error
	if n.stream == nil {
		n.stream, err = n.js.Stream(ctx, n.cfg.Stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			n.stream, err = n.js.CreateStream(ctx, jetstream.StreamConfig{
				Name:     n.cfg.Stream,
				Subjects: []string{subject(n.cfg.Stream)},
				Storage:  jetstream.FileStorage,
				Replicas: n.cfg.Replicas,
				// Everything is kept: a new replica replays from sequence 1
				// (README: starting from a snapshot instead).
				Retention:  jetstream.LimitsPolicy,
				Duplicates: 2 * time.Minute,
			})
		}
		if err != nil {
			n.stream = nil
			return fmt.Errorf("replication: stream %s: %w", n.cfg.Stream, err)
		}
	}
	kv, err := n.js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = n.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: bucket, History: 1, TTL: n.cfg.LeaseTTL,
			Storage: jetstream.FileStorage, Replicas: n.cfg.Replicas,
		})
	}
	if err != nil {
		return fmt.Errorf("replication: lease bucket %s: %w", bucket, err)
	}
	n.lease = &lease{kv: kv, key: "syncer", id: n.cfg.ID, ttl: n.cfg.LeaseTTL, renewEvery: n.cfg.LeaseRenew, log: n.cfg.Log}
	return nil
}

// Close stops applying and disconnects; it does not close the store.
func (n *Node) Close() {
	n.cancel()
	n.wg.Wait()
	n.nc.Close()
}

// Publish sends patches to the stream without a fence (writes that need no
// lease: /import) and returns the sequence of the last message once
// JetStream has acknowledged it. The local store has it after
// WaitApplied(ctx, seq).
func (n *Node) Publish(ctx context.Context, patches []*importer.Patch) (uint64, error) {
	if len(patches) == 0 {
		return 0, nil
	}
	return n.pub.publish(ctx, 0, patches)
}

// WaitApplied blocks until the local store has applied the stream up to
// seq (read-your-writes after Publish), or ctx ends.
func (n *Node) WaitApplied(ctx context.Context, seq uint64) error { return n.ap.wait(ctx, seq) }

// Apply publishes patches without a fence (see Publish), waits until the
// local store has applied them and returns what that did: the
// read-your-writes write of /import in --nats mode.
func (n *Node) Apply(ctx context.Context, patches []*importer.Patch) (syncer.Result, error) {
	return n.applyFenced(ctx, 0, patches)
}

func (n *Node) applyFenced(ctx context.Context, fence uint64, patches []*importer.Patch) (syncer.Result, error) {
	patches, skipped, err := n.ap.changing(ctx, patches)
	if err != nil || len(patches) == 0 {
		return skipped, err
	}
	seqs, err := n.pub.publishAll(ctx, fence, patches)
	if err != nil {
		return syncer.Result{}, err
	}
	if err := n.ap.wait(ctx, seqs[len(seqs)-1]); err != nil {
		return syncer.Result{}, err
	}
	out, ok := n.ap.result(seqs)
	out.Add(skipped)
	if !ok {
		return out.Result, fmt.Errorf("replication: messages %d..%d were applied but their results are gone", seqs[0], seqs[len(seqs)-1])
	}
	if out.fenced {
		return out.Result, fmt.Errorf("replication: the writes of term %d were skipped: another server holds the lease", fence)
	}
	return out.Result, nil
}

// Both write paths are what the live sync and /import write through.
var (
	_ syncer.Applier = (*Node)(nil)
	_ syncer.Applier = (*Leader)(nil)
)

// Leader is a lease holder's write handle: its publishes carry its term.
type Leader struct {
	n    *Node
	ctx  context.Context
	Term uint64
}

// Publish sends patches fenced by the leader's term. It fails once the
// lease is lost; a message it sent after another server took the lease is
// skipped by every replica.
func (l *Leader) Publish(ctx context.Context, patches []*importer.Patch) (uint64, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, fmt.Errorf("replication: not the leader any more (term %d): %w", l.Term, err)
	}
	if len(patches) == 0 {
		return 0, nil
	}
	return l.n.pub.publish(ctx, l.Term, patches)
}

// Apply is Node.Apply fenced by the leader's term: the Applier of the
// live sync in --nats mode (syncer.Applier: publish, wait for the local
// apply, report what it did).
func (l *Leader) Apply(ctx context.Context, patches []*importer.Patch) (syncer.Result, error) {
	if err := l.ctx.Err(); err != nil {
		return syncer.Result{}, fmt.Errorf("replication: not the leader any more (term %d): %w", l.Term, err)
	}
	return l.n.applyFenced(ctx, l.Term, patches)
}

// Lead competes for the sync lease until ctx ends. While this server holds
// it, fn runs with a context that ends when the lease is lost; the fence
// marker of the new term is in the stream before fn starts.
func (n *Node) Lead(ctx context.Context, fn func(ctx context.Context, l *Leader)) {
	n.lease.run(ctx, func(lctx context.Context, term uint64) {
		for {
			if _, err := n.pub.publish(lctx, term, nil); err == nil {
				break
			} else if lctx.Err() != nil {
				return
			} else {
				n.cfg.Log.Warn("replication: publish the fence marker", "term", term, "err", err)
			}
		}
		fn(lctx, &Leader{n: n, ctx: lctx, Term: term})
	})
}

// Status is what /readyz, syncStatus and /metrics show.
type Status struct {
	Stream  string
	ID      string
	Applied uint64        // batchql_replication_applied_sequence
	Fence   uint64        // the highest lease term applied
	Tail    uint64        // the stream's last sequence at the last check
	Lag     time.Duration // batchql_replication_lag_seconds
	Ready   bool
	Reason  string // why not ready
	Lease   LeaseStatus
}

// Status reports the replication state now.
func (n *Node) Status() Status {
	a := n.ap.applied()
	now := time.Now()
	n.mu.Lock()
	tail, checkedAt, behindAt, caughtUp, gap := n.tail, n.checkedAt, n.behindAt, n.caughtUp, n.gap
	n.mu.Unlock()
	st := Status{Stream: n.cfg.Stream, ID: n.cfg.ID, Applied: a.Seq, Fence: a.Fence, Tail: tail, Lease: n.lease.status()}
	if !behindAt.IsZero() && a.Seq < tail {
		st.Lag = now.Sub(behindAt)
	}
	if checkedAt.IsZero() {
		st.Reason = "the stream's tail has not been read yet"
		return st
	}
	// What arrived after the last check is unknown: staleness counts.
	st.Lag = max(st.Lag, now.Sub(checkedAt)-n.cfg.TailEvery)
	switch {
	case gap != "":
		st.Reason = gap
	case !caughtUp:
		st.Reason = fmt.Sprintf("catching up: applied %d of %d", a.Seq, tail)
	case st.Lag >= n.cfg.MaxLag:
		st.Reason = fmt.Sprintf("lagging %s behind the stream (max %s)", st.Lag.Round(time.Millisecond), n.cfg.MaxLag)
	default:
		st.Ready = true
	}
	return st
}

// tailLoop reads the stream's last sequence every TailEvery and, when the
// store is behind, the publish time of the first message it lacks.
func (n *Node) tailLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.TailEvery)
	defer t.Stop()
	for {
		n.checkTail(ctx)
		if !n.lease.competing.Load() {
			// Servers that do not sync still show who does.
			octx, cancel := context.WithTimeout(ctx, time.Second)
			n.lease.observe(octx, true)
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) checkTail(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := n.stream.Info(cctx)
	if err != nil {
		if ctx.Err() == nil {
			n.cfg.Log.Debug("replication: read the stream's tail", "err", err)
		}
		return
	}
	tail, now := info.State.LastSeq, time.Now()
	applied := n.ap.applied().Seq
	var behindAt time.Time
	if applied < tail {
		behindAt = now
		if m, err := n.stream.GetMsg(cctx, applied+1); err == nil {
			behindAt = m.Time
		}
	}
	n.mu.Lock()
	n.tail, n.checkedAt, n.behindAt = tail, now, behindAt
	if applied >= tail {
		n.caughtUp = true
	}
	n.mu.Unlock()
}

// consumeLoop applies the stream with a consumer of its own from the
// sequence after the stored one; after an error it starts again, a second
// later, from the stored sequence.
func (n *Node) consumeLoop(ctx context.Context) {
	for ctx.Err() == nil {
		err := n.consume(ctx)
		if ctx.Err() != nil {
			return
		}
		n.restarts.Add(1)
		n.cfg.Log.Warn("replication: consumer stopped; restarting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

const (
	applyMaxMsgs  = 256
	applyMaxBytes = 1 << 20
	// natsTimeout bounds each JetStream request of the consumer's setup: a
	// request that cannot be answered now (no stream or meta leader during
	// a NATS failover) fails soon and is sent again by consumeLoop.
	natsTimeout = 2 * time.Second
)

// consume applies the stream from the sequence after the stored one until
// an error. It creates an ephemeral consumer (memory, no acks) rather than
// using jetstream.OrderedConsumer: that one re-creates a lost consumer
// inside Next, with a backoff of 1, 2, 4, 8, then 10 s and 10 s a request,
// unseen here. After the SIGKILL of the NATS node leading the stream, the
// two left had a new stream leader 6.1 s later but a replica applied
// again only after 16.8 s, once 13.4 s with one reset attempt (the
// request sent during the election waited out its 10 s): the e2e test's
// "no writes for 15 s" stall. Here a missed heartbeat (2 s) or any other
// error ends consume, and each restart's requests wait natsTimeout at
// most. Order is checked as the ordered consumer does: a delivery
// sequence that skips one (a message lost in a reconnect) ends consume.
func (n *Node) consume(ctx context.Context) error {
	start := n.ap.applied().Seq + 1
	// A stream purged past this database's sequence (after snapshots,
	// README: Replication) would skip writes: refuse, and stay unready.
	ictx, cancel := context.WithTimeout(ctx, natsTimeout)
	info, err := n.stream.Info(ictx)
	cancel()
	if err != nil {
		return fmt.Errorf("read the stream's state: %w", err)
	}
	if info.State.Msgs > 0 && info.State.FirstSeq > start {
		err := fmt.Errorf("the stream %s starts at sequence %d but this database needs %d: start from a copy of a newer replica's database", n.cfg.Stream, info.State.FirstSeq, start)
		n.mu.Lock()
		n.gap = err.Error()
		n.mu.Unlock()
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, natsTimeout)
	cons, err := n.js.CreateConsumer(cctx, n.cfg.Stream, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute, // the server removes one this process left behind
	})
	cancel()
	if err != nil {
		return fmt.Errorf("create a consumer from %d: %w", start, err)
	}
	defer func() {
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), natsTimeout)
			_ = n.js.DeleteConsumer(dctx, n.cfg.Stream, cons.CachedInfo().Name)
			cancel()
		}()
	}()
	// A heartbeat a second (nats.go's default is 30 s) notices a lost NATS
	// node soon: its second miss is an error.
	it, err := cons.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return err
	}
	ch := make(chan jetstream.Msg, applyMaxMsgs)
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				errc <- err
				close(ch)
				return
			}
			ch <- m
		}
	}()
	defer func() {
		it.Stop()
		for range ch {
		}
	}()
	var batch []message
	var delivered uint64 // the consumer's delivery sequence of the last message
	for {
		var m jetstream.Msg
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok = <-ch:
		}
		if !ok {
			return <-errc
		}
		batch, size := batch[:0], 0
		for {
			msg, err := fromJetStream(m)
			if err != nil {
				return err
			}
			if msg.delivery != delivered+1 {
				return fmt.Errorf("delivery %d after %d: a message was lost on the way, starting again from the stored sequence", msg.delivery, delivered)
			}
			delivered = msg.delivery
			batch = append(batch, msg)
			size += len(msg.body)
			if len(batch) >= applyMaxMsgs || size >= applyMaxBytes {
				break
			}
			select {
			case m, ok = <-ch:
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if err := n.ap.apply(ctx, batch); err != nil {
			return err
		}
	}
}
