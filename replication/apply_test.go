package replication

import (
	"context"
	"errors"
	"testing"

	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/storage/yieldtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func body(t *testing.T, recs ...string) []byte {
	t.Helper()
	bodies, err := encodeBatches(patches(t, recs...), maxBody)
	require.NoError(t, err)
	require.Len(t, bodies, 1)
	return bodies[0]
}

func TestEncodeSplitsAtTheLimit(t *testing.T) {
	recs := workload(3, 50, 1)[0]
	ps := patches(t, recs...)
	bodies, err := encodeBatches(ps, 2000)
	require.NoError(t, err)
	require.Greater(t, len(bodies), 3)
	var back []string
	for _, b := range bodies {
		assert.LessOrEqual(t, len(b), 2000)
		got, err := decodeBody(b)
		require.NoError(t, err)
		for _, p := range got {
			j, err := p.MarshalJSON()
			require.NoError(t, err)
			back = append(back, string(j))
		}
	}
	require.Len(t, back, len(recs))
	for i, p := range ps {
		j, _ := p.MarshalJSON()
		assert.Equal(t, string(j), back[i], "patch %d keeps its place and value", i)
	}

	_, err = encodeBatches(ps, 100)
	require.ErrorContains(t, err, "over the message limit of 100")
	require.ErrorContains(t, err, "batch operation 2251799813690000")
}

func TestDecodeNamesTheBadLine(t *testing.T) {
	_, err := decodeBody([]byte(opJSON("1", "ACTIVE", 0) + "\n{\"batchOperationKey\":\"1\",\"batchOperationType\":\"NOPE\"}\n"))
	require.ErrorContains(t, err, "line 2")
}

// A message redelivered after its transaction committed (a crash between
// the apply and the consumer's progress) is skipped: re-applying message 1
// after message 2 would move the operation back to ACTIVE.
func TestApplySkipsRedelivered(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, tempDB(t, "a.db"))
	defer s.Close()
	a, err := newApplier(ctx, s, "batchql", testLog(t))
	require.NoError(t, err)
	m1 := message{seq: 1, body: body(t, opJSON("1", "ACTIVE", 10))}
	m2 := message{seq: 2, body: body(t, opJSON("1", "COMPLETED", 100))}
	m3 := message{seq: 3, body: body(t, itemJSON("1", 5, "COMPLETED"))}
	require.NoError(t, a.apply(ctx, []message{m1, m2}))
	require.NoError(t, a.apply(ctx, []message{m1}))
	st, n := opState(t, s, "1")
	assert.Equal(t, "COMPLETED", st)
	assert.Equal(t, 100, n)
	require.NoError(t, a.apply(ctx, []message{m2, m3}))
	assert.Equal(t, uint64(2), a.stats.Redelivered.Load())
	assert.Equal(t, uint64(3), a.stats.Messages.Load())
	assert.Equal(t, storage.Applied{Seq: 3}, appliedOf(t, s))
	require.NoError(t, s.Verify(ctx))

	// A fresh applier on the same file (a restart) knows where it was.
	b, err := newApplier(ctx, s, "batchql", testLog(t))
	require.NoError(t, err)
	require.NoError(t, b.apply(ctx, []message{m1, m2, m3}))
	assert.Equal(t, uint64(3), b.stats.Redelivered.Load())
	st, _ = opState(t, s, "1")
	assert.Equal(t, "COMPLETED", st)
}

// A crash inside the transaction (after the writes, before the commit)
// leaves neither the writes nor the sequence; applying again completes it.
func TestApplyCrashBeforeCommit(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t, "a.db")
	s := openStore(t, path)
	a, err := newApplier(ctx, s, "batchql", testLog(t))
	require.NoError(t, err)
	msgs := []message{
		{seq: 1, body: body(t, opJSON("1", "ACTIVE", 10))},
		{seq: 2, body: body(t, opJSON("1", "COMPLETED", 100), itemJSON("1", 1, "COMPLETED"))},
	}
	require.NoError(t, a.apply(ctx, msgs[:1]))
	crash := errors.New("crash")
	a.beforeCommit = func(uint64) error { return crash }
	require.ErrorIs(t, a.apply(ctx, msgs[1:]), crash)
	require.NoError(t, s.Close())

	s = openStore(t, path)
	defer s.Close()
	assert.Equal(t, storage.Applied{Seq: 1}, appliedOf(t, s))
	st, _ := opState(t, s, "1")
	assert.Equal(t, "ACTIVE", st, "the aborted message wrote nothing")
	b, err := newApplier(ctx, s, "batchql", testLog(t))
	require.NoError(t, err)
	require.NoError(t, b.apply(ctx, msgs)) // redelivered from the start
	st, n := opState(t, s, "1")
	assert.Equal(t, "COMPLETED", st)
	assert.Equal(t, 100, n)
	assert.Equal(t, uint64(1), b.stats.Redelivered.Load())
	assert.Equal(t, uint64(1), b.stats.Messages.Load())
	require.NoError(t, s.Verify(ctx))
}

// Messages of a leader whose term is below the highest seen are skipped
// whole, by every applier alike; writes without a fence always apply.
func TestApplyFencesStaleLeaders(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t, "a.db")
	s := openStore(t, path)
	a, err := newApplier(ctx, s, "batchql", testLog(t))
	require.NoError(t, err)
	cases := []struct {
		msg   message
		state string
	}{
		{message{seq: 1, fence: 5, body: body(t, opJSON("1", "ACTIVE", 1))}, "ACTIVE"},
		{message{seq: 2, fence: 9}, "ACTIVE"}, // the new leader's marker
		{message{seq: 3, fence: 5, body: body(t, opJSON("1", "FAILED", 2))}, "ACTIVE"},
		{message{seq: 4, fence: 0, body: body(t, opJSON("1", "SUSPENDED", 3))}, "SUSPENDED"},
		{message{seq: 5, fence: 9, body: body(t, opJSON("1", "COMPLETED", 4))}, "COMPLETED"},
		{message{seq: 6, fence: 8, body: body(t, opJSON("1", "CANCELED", 5))}, "COMPLETED"},
	}
	for _, c := range cases {
		require.NoError(t, a.apply(ctx, []message{c.msg}))
		st, _ := opState(t, s, "1")
		assert.Equal(t, c.state, st, "after message %d (fence %d)", c.msg.seq, c.msg.fence)
	}
	assert.Equal(t, uint64(2), a.stats.Fenced.Load())
	assert.Equal(t, storage.Applied{Seq: 6, Fence: 9}, appliedOf(t, s))
	require.NoError(t, s.Close())

	// The fence survives a restart.
	s = openStore(t, path)
	defer s.Close()
	b, err := newApplier(ctx, s, "batchql", testLog(t))
	require.NoError(t, err)
	require.NoError(t, b.apply(ctx, []message{{seq: 7, fence: 5, body: body(t, opJSON("1", "FAILED", 9))}}))
	st, _ := opState(t, s, "1")
	assert.Equal(t, "COMPLETED", st)
}

// A patch that cannot apply (an item of an operation nobody stored, with
// no type of its own) is skipped and counted; the rest of its message
// applies and the sequence moves on, so the stream never stalls.
func TestApplySkipsPatchesThatCannotApply(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, tempDB(t, "a.db"))
	defer s.Close()
	a, err := newApplier(ctx, s, "batchql", testLog(t))
	require.NoError(t, err)
	bad := []byte(`{"batchOperationKey":"9","itemKey":"1","state":"ACTIVE"}` + "\n" + opJSON("1", "ACTIVE", 0) + "\n")
	garbled := []byte("{not json\n")
	require.NoError(t, a.apply(ctx, []message{{seq: 1, body: bad}, {seq: 2, body: garbled}}))
	assert.Equal(t, uint64(2), a.stats.BadPatches.Load())
	assert.Equal(t, storage.Applied{Seq: 2}, appliedOf(t, s))
	st, _ := opState(t, s, "1")
	assert.Equal(t, "ACTIVE", st)
	require.NoError(t, s.Verify(ctx))
}

// A replica's apply gives way to other goroutines as it goes
// (storage.GiveWay): on one processor, a goroutine that is runnable while
// 5,000 items are applied gets a turn every 64 patches, not only when the
// scheduler preempts the apply.
func TestApplyYields(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, tempDB(t, "a.db"))
	defer s.Close()
	a, err := newApplier(ctx, s, "batchql", testLog(t))
	require.NoError(t, err)
	const n = 5000
	recs := []string{opJSON("1", "ACTIVE", 0)}
	for i := range n {
		recs = append(recs, itemJSON("1", i, "COMPLETED"))
	}
	bodies, err := encodeBatches(patches(t, recs...), maxBody)
	require.NoError(t, err)
	var msgs []message
	for i, b := range bodies {
		msgs = append(msgs, message{seq: uint64(i + 1), body: b})
	}

	during := yieldtest.Turns(func() { err = a.apply(ctx, msgs) })
	require.NoError(t, err)
	require.Equal(t, uint64(n+1), a.stats.Patches.Load())
	// one turn a yield, but the runtime's own goroutines (the collector, the
	// sweeper) take some of them: half is far above the handful preemption gives
	require.GreaterOrEqual(t, during, int64(n/64/2), "turns the other goroutine got while %d patches were applied", n+1)
}
