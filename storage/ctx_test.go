package storage

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endingCtx is a context whose Err turns to DeadlineExceeded after `after`
// calls: a deadline that passes in the middle of a scan, deterministically.
type endingCtx struct {
	context.Context
	after int64
	calls atomic.Int64
}

func (c *endingCtx) Err() error {
	if c.calls.Add(1) > c.after {
		return context.DeadlineExceeded
	}
	return nil
}

// A request's deadline stops a scan at the next check (every ctxEvery
// keys), for the page and for totalCount, instead of reading on.
func TestScansStopWhenTheContextEnds(t *testing.T) {
	s := openTemp(t)
	randomData(31, 0, 5, 6000).load(t, s)
	like := "*9*" // no index helps: every item is read and matched
	q := ItemQuery{
		Filter: BatchOperationItemFilter{ProcessInstanceKey: &StringFilter{Like: &like}},
		Order:  []Order{{Field: "PROCESSED_DATE", Desc: true}},
		Page:   PageRequest{First: ptrTo(5000)},
	}
	// With time to spare, the query reads all 6000 items, checking the
	// context several times.
	calm := &endingCtx{Context: context.Background(), after: 1 << 40}
	p, err := s.Items(calm, q)
	require.NoError(t, err)
	require.NotEmpty(t, p.Edges)
	full := calm.calls.Load()
	require.GreaterOrEqual(t, full, int64(4), "the scan checks its context every %d keys", ctxEvery)

	for _, count := range []bool{false, true} {
		q.Count = count
		ctx := &endingCtx{Context: context.Background(), after: 2}
		_, err := s.Items(ctx, q)
		require.ErrorIs(t, err, context.DeadlineExceeded, "count %v", count)
		assert.LessOrEqual(t, ctx.calls.Load(), int64(3), "count %v: the scan went on after the deadline", count)
	}
}

func ptrTo[T any](v T) *T { return &v }
