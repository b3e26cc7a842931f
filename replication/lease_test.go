package replication

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server's passive look at the lease (it shows the leader while it does
// not compete) must not overwrite what its own run recorded: the look can
// start before the run and end after the run took the lease. Here it runs
// while this server leads, as the late end of such a race would.
func TestPassiveObserveKeepsTheHolder(t *testing.T) {
	ns := runNATS(t)
	n, _ := newNode(t, ns, "a", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Lead(ctx, func(lctx context.Context, _ *Leader) { <-lctx.Done() })
	}()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return n.Status().Lease.Self }, waitFor, 10*time.Millisecond)

	n.lease.observe(ctx, true)
	assert.True(t, n.Status().Lease.Self, "a passive look overwrote the holder's status")

	n.lease.observe(ctx, false) // a competing look records what it reads
	st := n.Status().Lease
	assert.Equal(t, LeaseStatus{Leader: "a", Term: st.Term, Self: false}, st)
}

// Release deletes the entry when a renewal it gave up on was stored after
// all (its revision is one past the one the holder knows), and leaves an
// entry another server wrote.
func TestReleaseAfterAStoredRenewal(t *testing.T) {
	ns := runNATS(t)
	n, _ := newNode(t, ns, "a", nil)
	l, ctx := n.lease, context.Background()

	rev, err := l.kv.Create(ctx, l.key, []byte(l.id))
	require.NoError(t, err)
	h := held{term: rev, rev: rev}
	_, err = l.kv.Update(ctx, l.key, h.value(l.id), h.rev) // the renewal whose answer was lost
	require.NoError(t, err)
	require.NoError(t, l.release(ctx, h))
	_, err = l.kv.Get(ctx, l.key)
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "the entry outlived its release")

	rev, err = l.kv.Create(ctx, l.key, []byte(l.id))
	require.NoError(t, err)
	h = held{term: rev, rev: rev}
	_, err = l.kv.Update(ctx, l.key, held{term: rev + 1}.value("b"), h.rev) // b's now
	require.NoError(t, err)
	require.Error(t, l.release(ctx, h))
	e, err := l.kv.Get(ctx, l.key)
	require.NoError(t, err)
	assert.Equal(t, string(held{term: rev + 1}.value("b")), string(e.Value()), "another server's entry was deleted")
}
