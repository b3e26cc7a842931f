package replication

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// lease elects one leader among the servers that want to sync: a key in a
// JetStream key-value bucket whose TTL (the bucket's max age) removes the
// entry of a leader that stops renewing it.
//
//   - Acquire: kv.Create, which succeeds only when the key is absent. Its
//     revision (a sequence of the bucket's stream, so larger for every later
//     leader) is the leader's term, the fencing token its messages carry.
//   - The value is "<id>\n<term>" (just "<id>" before the first renewal, when the revision is the term),
//     so the others can show the leader and its term.
//   - Renew every renewEvery with kv.Update against the last revision; a
//     failed compare (someone else holds it, or it expired) ends the
//     leadership at once.
//   - A leader that cannot renew (NATS unreachable, or paused) stops leading
//     when its own deadline passes: ttl after the last renewal it sent,
//     before the bucket can expire the entry. A leader paused past that does
//     not know it lost; its later messages carry the old term and every
//     applier skips them once the new leader's fence marker (published
//     before it writes anything) is in the stream.
//   - Release on shutdown: kv.Delete with the last revision, so another
//     server takes over without waiting for the TTL.
//
// Failover after a crash takes at most ttl + renewEvery (13 s with the
// defaults), within the 30 s of contract §13.
type lease struct {
	kv         jetstream.KeyValue
	key, id    string
	ttl        time.Duration
	renewEvery time.Duration
	log        *slog.Logger

	mu       sync.Mutex
	leader   string // "" when unknown or none
	term     uint64
	self     bool
	renewals uint64 // the entry's revision when last observed (tests)
}

// LeaseStatus is who holds the lease, as this server last saw it.
type LeaseStatus struct {
	Leader string // server id; "" when none is known
	Term   uint64 // the leader's fencing token
	Self   bool   // this server is the leader
}

func (l *lease) status() LeaseStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LeaseStatus{Leader: l.leader, Term: l.term, Self: l.self}
}

func (l *lease) set(leader string, term uint64, self bool) {
	l.mu.Lock()
	l.leader, l.term, l.self = leader, term, self
	l.mu.Unlock()
}

// run competes for the lease until ctx ends; while this server holds it,
// lead runs with a context that ends when the lease is lost (and run waits
// for lead to return before competing again).
func (l *lease) run(ctx context.Context, lead func(ctx context.Context, term uint64)) {
	for ctx.Err() == nil {
		sent := time.Now()
		rev, err := l.kv.Create(ctx, l.key, []byte(l.id))
		switch {
		case err == nil:
			l.hold(ctx, rev, sent, lead)
			continue
		case errors.Is(err, jetstream.ErrKeyExists):
			l.observe(ctx)
		case ctx.Err() == nil:
			l.log.Warn("replication: lease: acquire", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(l.renewEvery):
		}
	}
}

// observe records the current holder, for the status.
func (l *lease) observe(ctx context.Context) {
	e, err := l.kv.Get(ctx, l.key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			l.set("", 0, false)
		}
		return
	}
	id, term, _ := strings.Cut(string(e.Value()), "\n")
	t, err := strconv.ParseUint(term, 10, 64)
	if err != nil {
		t = e.Revision() // not renewed yet: the revision is the term
	}
	l.set(id, t, false)
	l.mu.Lock()
	l.renewals = e.Revision()
	l.mu.Unlock()
}

func (l *lease) hold(ctx context.Context, rev uint64, sent time.Time, lead func(context.Context, uint64)) {
	term := rev
	l.set(l.id, term, true)
	l.log.Info("replication: lease acquired", "id", l.id, "term", term)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(lctx, term)
	}()
	deadline := sent.Add(l.ttl)
	tick := time.NewTicker(l.renewEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cancel()
			<-done
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := l.kv.Delete(rctx, l.key, jetstream.LastRevision(rev))
			rcancel()
			l.set("", 0, false)
			l.log.Info("replication: lease released", "id", l.id, "term", term, "err", err)
			return
		case <-done:
			// lead returned on its own: keep the lease (and renewing)
			// only while the server is running; give it up now.
			cancel()
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
			l.kv.Delete(rctx, l.key, jetstream.LastRevision(rev))
			rcancel()
			l.set("", 0, false)
			return
		case <-tick.C:
		}
		sent := time.Now()
		if sent.After(deadline) {
			l.lost(cancel, done, term, "the lease expired before it could be renewed")
			return
		}
		uctx, ucancel := context.WithTimeout(ctx, time.Until(deadline))
		next, err := l.kv.Update(uctx, l.key, []byte(l.id+"\n"+strconv.FormatUint(term, 10)), rev)
		ucancel()
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
				l.lost(cancel, done, term, "another server holds the lease")
				return
			}
			l.log.Warn("replication: lease: renew", "term", term, "err", err)
			continue
		}
		rev, deadline = next, sent.Add(l.ttl)
	}
}

func (l *lease) lost(cancel context.CancelFunc, done chan struct{}, term uint64, why string) {
	cancel()
	<-done
	l.set("", 0, false)
	l.log.Warn("replication: lease lost", "id", l.id, "term", term, "why", why)
}
