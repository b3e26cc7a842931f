package replication

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publisher writes batches of patches to the stream and waits for
// JetStream's acknowledgement of each message: a write is reported done
// only once the stream (all its replicas' quorum) has stored it.
type publisher struct {
	js       jetstream.JetStream
	subject  string
	producer string // unique per process start
	n        atomic.Uint64
	limit    int           // body limit (maxBody; smaller in tests)
	retry    time.Duration // pause between attempts of one message
}

func newPublisher(js jetstream.JetStream, subject string) *publisher {
	var b [8]byte
	rand.Read(b[:])
	return &publisher{js: js, subject: subject, producer: hex.EncodeToString(b[:]), limit: maxBody, retry: 250 * time.Millisecond}
}

// publish sends patches as one or more messages carrying fence (0 for
// none) and returns the stream sequence of the last; an empty patches
// publishes one fence marker. A message whose publish fails (timeout, no
// stream leader during a NATS failover) is sent again with the same
// message id until ctx ends, so a lost acknowledgement never stores it
// twice.
func (p *publisher) publish(ctx context.Context, fence uint64, patches []*importer.Patch) (uint64, error) {
	seqs, err := p.publishAll(ctx, fence, patches)
	if len(seqs) == 0 {
		return 0, err
	}
	return seqs[len(seqs)-1], err
}

// publishAll is publish returning the sequence of every message.
func (p *publisher) publishAll(ctx context.Context, fence uint64, patches []*importer.Patch) ([]uint64, error) {
	bodies, err := encodeBatches(patches, p.limit)
	if err != nil {
		return nil, err
	}
	if len(bodies) == 0 {
		bodies = [][]byte{nil}
	}
	seqs := make([]uint64, 0, len(bodies))
	for _, body := range bodies {
		msg := nats.NewMsg(p.subject)
		msg.Data = body
		msg.Header.Set(jetstream.MsgIDHeader, p.producer+"-"+strconv.FormatUint(p.n.Add(1), 10))
		if fence != 0 {
			msg.Header.Set(fenceHeader, strconv.FormatUint(fence, 10))
		}
		ack, err := p.send(ctx, msg)
		if err != nil {
			return seqs, err
		}
		seqs = append(seqs, ack.Sequence)
	}
	return seqs, nil
}

func (p *publisher) send(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ack, err := p.js.PublishMsg(actx, msg)
		cancel()
		if err == nil {
			return ack, nil
		}
		if ctx.Err() != nil || !retriable(err) {
			return nil, fmt.Errorf("replication: publish %s (attempt %d): %w", msg.Header.Get(jetstream.MsgIDHeader), attempt, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("replication: publish %s (attempt %d): %w", msg.Header.Get(jetstream.MsgIDHeader), attempt, err)
		case <-time.After(p.retry):
		}
	}
}

// retriable errors are those of a cluster in transition (no responders
// while a stream leader is elected, timeouts, reconnects); errors of the
// message itself (too large, stream not matching) are not.
func retriable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code >= 500 || apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound
	}
	return !errors.Is(err, nats.ErrMaxPayload) && !errors.Is(err, nats.ErrBadSubject)
}
