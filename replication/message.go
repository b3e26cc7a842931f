package replication

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/batchql/batchql/importer"
	"github.com/nats-io/nats.go/jetstream"
)

// A message of the stream is one commit-sized batch of patches: its body is
// NDJSON, one importer.Patch JSON (the engine's record format, normalized)
// a line; an empty body is a fence marker. Its headers:
//
//   - Nats-Msg-Id: "<producer>-<n>", the publisher's id and its message
//     counter, so a publish retried after a lost ack is stored once
//     (JetStream drops a repeated id within the stream's duplicate window);
//   - Batchql-Fence: the publisher's lease term (decimal), absent or 0 for
//     writes that need no lease (/import).
const (
	fenceHeader = "Batchql-Fence"
	// maxBody bounds a message's body: JetStream's default max_payload is
	// 1 MiB for body and headers together.
	maxBody = 900 << 10
)

// message is what the applier needs of a stream message; tests make them
// without NATS.
type message struct {
	seq      uint64
	delivery uint64 // the consumer's delivery sequence (1, 2, …), 0 when not delivered by a consumer
	fence    uint64
	body     []byte
}

func fromJetStream(m jetstream.Msg) (message, error) {
	md, err := m.Metadata()
	if err != nil {
		return message{}, fmt.Errorf("message metadata: %w", err)
	}
	msg := message{seq: md.Sequence.Stream, delivery: md.Sequence.Consumer, body: m.Data()}
	if v := m.Headers().Get(fenceHeader); v != "" {
		// A bad header is treated as no fence: every replica decides the
		// same, which is what matters.
		msg.fence, _ = strconv.ParseUint(v, 10, 64)
	}
	return msg, nil
}

// encodeBatches splits patches into message bodies of at most maxBody
// bytes, in order. A patch larger than maxBody is an error naming it.
func encodeBatches(patches []*importer.Patch, limit int) ([][]byte, error) {
	var out [][]byte
	var cur []byte
	var line []byte
	for _, p := range patches {
		if p.Kind() == "" {
			return nil, fmt.Errorf("replication: an empty patch")
		}
		line = append(p.AppendJSON(line[:0]), '\n')
		if len(line) > limit {
			return nil, fmt.Errorf("replication: %s %s is %d bytes as JSON, over the message limit of %d", p.Kind(), p.Key(), len(line), limit)
		}
		if len(cur)+len(line) > limit {
			out = append(out, cur)
			cur = nil
		}
		if cur == nil {
			cur = make([]byte, 0, min(limit, 64<<10))
		}
		cur = append(cur, line...)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// decodeBody parses a message body into patches; the error names the line.
func decodeBody(body []byte) ([]*importer.Patch, error) {
	var out []*importer.Patch
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		p := new(importer.Patch)
		if err := p.UnmarshalJSON(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, p)
	}
	return out, nil
}
