package replication

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
//     when its own deadline passes: 0.9 ttl after the last renewal it sent,
//     before the bucket can expire the entry. A leader paused past that does
//     not know it lost; its later messages carry the old term and every
//     applier skips them once the new leader's fence marker (published
//     before it writes anything) is in the stream.
//   - A leader that stepped down because it could not renew in time (a NATS
//     failover longer than the TTL) resumes its term when its entry is
//     still there: kv.Update against its last revision succeeds only if
//     nobody took the lease since.
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

	competing atomic.Bool // run is running: it keeps the status itself
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
	l.competing.Store(true)
	defer l.competing.Store(false)
	var resume held // a lease this server stepped down from without losing it
	for ctx.Err() == nil {
		sent := time.Now()
		if resume.rev != 0 {
			// The entry may still be ours: the renewal compares against our
			// last revision, so it succeeds only when nobody took the lease
			// since, and the term stays the same.
			rev, err := l.kv.Update(ctx, l.key, resume.value(l.id), resume.rev)
			if err == nil {
				resume = l.hold(ctx, held{term: resume.term, rev: rev}, sent, lead)
				continue
			}
			if wrongRevision(err) || errors.Is(err, jetstream.ErrKeyNotFound) {
				resume = held{}
			}
		} else {
			rev, err := l.kv.Create(ctx, l.key, []byte(l.id))
			switch {
			case err == nil:
				resume = l.hold(ctx, held{term: rev, rev: rev}, sent, lead)
				continue
			case errors.Is(err, jetstream.ErrKeyExists):
				l.observe(ctx, false)
			case ctx.Err() == nil:
				l.log.Warn("replication: lease: acquire", "err", err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(l.renewEvery):
		}
	}
}

// held is a lease entry this server wrote: its term and last revision.
type held struct{ term, rev uint64 }

func (h held) value(id string) []byte { return []byte(id + "\n" + strconv.FormatUint(h.term, 10)) }

func wrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// observe records the current holder, for the status. A server that does
// not compete calls it with passive set, and then it records only while
// the server still does not compete: its read can race a run that starts
// and takes the lease meanwhile, and recording "held by a, not self" after
// a's own hold recorded "self" left a leader that said it was not one (CI,
// loaded: a led for 20 s while its status said otherwise).
func (l *lease) observe(ctx context.Context, passive bool) {
	var id string
	var term, rev uint64
	e, err := l.kv.Get(ctx, l.key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return
	default:
		var t string
		id, t, _ = strings.Cut(string(e.Value()), "\n")
		rev = e.Revision()
		if term, err = strconv.ParseUint(t, 10, 64); err != nil {
			term = rev // not renewed yet: the revision is the term
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if passive && l.competing.Load() {
		return
	}
	l.leader, l.term, l.self = id, term, false
	if rev != 0 {
		l.renewals = rev
	}
}

// hold runs lead while the lease is held and returns, when the lease
// could not be renewed in time, the entry to try to resume (zero when
// another server took it or this one released it).
func (l *lease) hold(ctx context.Context, h held, sent time.Time, lead func(context.Context, uint64)) held {
	term := h.term
	l.set(l.id, term, true)
	l.log.Info("replication: lease acquired", "id", l.id, "term", term)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(lctx, term)
	}()
	release := func() {
		cancel()
		<-done
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := l.release(rctx, h)
		rcancel()
		l.set("", 0, false)
		l.log.Info("replication: lease released", "id", l.id, "term", term, "err", err)
	}
	// The bucket expires the entry ttl after the server stored it, which is
	// after it was sent: stepping down a tenth of ttl before sent+ttl
	// leaves the old leader's end before the next one's start.
	margin := l.ttl / 10
	expiry := time.NewTimer(time.Until(sent.Add(l.ttl - margin)))
	defer expiry.Stop()
	tick := time.NewTicker(l.renewEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			release()
			return held{}
		case <-done:
			// lead returned on its own: give the lease up now.
			release()
			return held{}
		case <-expiry.C:
			l.lost(cancel, done, term, "the lease expired before it could be renewed")
			return h
		case <-tick.C:
		}
		sent := time.Now()
		uctx, ucancel := context.WithTimeout(ctx, l.renewEvery)
		next, err := l.kv.Update(uctx, l.key, h.value(l.id), h.rev)
		ucancel()
		if err != nil {
			if wrongRevision(err) {
				l.lost(cancel, done, term, "another server holds the lease")
				return held{}
			}
			l.log.Warn("replication: lease: renew", "term", term, "err", err)
			continue
		}
		h.rev = next
		expiry.Reset(time.Until(sent.Add(l.ttl - margin)))
	}
}

// release deletes the entry h if it is still this server's. A renewal cut
// short by the end of ctx may have been stored after all, one revision past
// h's; the entry then still carries this server's id and term and is
// deleted at its own revision (otherwise the next leader waited out the
// TTL: seen as "wrong last sequence" at the end of a test).
func (l *lease) release(ctx context.Context, h held) error {
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(h.rev))
	if !wrongRevision(err) {
		return err
	}
	e, gerr := l.kv.Get(ctx, l.key)
	if gerr != nil || string(e.Value()) != string(h.value(l.id)) {
		return err // someone else's now, or gone
	}
	return l.kv.Delete(ctx, l.key, jetstream.LastRevision(e.Revision()))
}

func (l *lease) lost(cancel context.CancelFunc, done chan struct{}, term uint64, why string) {
	cancel()
	<-done
	l.set("", 0, false)
	l.log.Warn("replication: lease lost", "id", l.id, "term", term, "why", why)
}
