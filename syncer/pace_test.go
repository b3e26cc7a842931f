package syncer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type passPoller struct{ last time.Time }

func (passPoller) poll(context.Context, bool) error { return nil }
func (p passPoller) lastPoll() time.Time            { return p.last }

type plainPoller struct{}

func (plainPoller) poll(context.Context, bool) error { return nil }

// After a full pass that polled running work between its pages, the next
// poll is due one interval after the last of those polls began, not one
// interval after the pass ended (freshness, contract §8).
func TestWaitAfterPass(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	end := start.Add(10 * time.Second) // when the pass ended
	for _, c := range []struct {
		name string
		p    poller
		want time.Duration
	}{
		{"no polls during passes", plainPoller{}, time.Second},
		{"last poll before the pass", passPoller{start.Add(-time.Second)}, time.Second},
		{"last poll 400ms before the end", passPoller{end.Add(-400 * time.Millisecond)}, 600 * time.Millisecond},
		{"last poll long before the end", passPoller{start.Add(time.Second)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := &source{p: c.p, now: func() time.Time { return end }}
			assert.Equal(t, c.want, src.afterPass(start, time.Second))
		})
	}
}

// Camunda 8's poller is one that polls during its passes.
var _ interface{ lastPoll() time.Time } = (*c8)(nil)
