package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
)

// applier writes stream messages into the local store, in stream order,
// exactly once: each transaction (Store.Update) holds the writes of one or
// more consecutive messages and stores the sequence of the last one
// (storage.Writer.SetApplied). A message at or below the stored sequence —
// redelivered after a crash between the commit and the consumer's
// progress — is skipped; a crash before the commit loses the whole
// transaction, and the consumer starts again after the stored sequence.
//
// Fencing: every replica keeps the highest lease term seen in the stream
// (stored with the sequence). A message with a lower non-zero term comes
// from a leader that lost its lease and is skipped whole, by every replica
// alike, since the decision depends only on the stream before it.
type applier struct {
	store  *storage.Store
	stream string
	log    *slog.Logger

	mu      sync.Mutex
	state   storage.Applied
	changed chan struct{} // closed and replaced on every commit

	stats   applyStats
	results map[uint64]*outcome // what recent messages did, by sequence (see result)
	// beforeCommit, when set (tests), runs inside the transaction after the
	// writes; an error aborts it as a crash before the commit would.
	beforeCommit func(last uint64) error
}

// applyStats count what the applier did since the process started.
type applyStats struct {
	Messages      atomic.Uint64 // applied (not skipped)
	Patches       atomic.Uint64 // patches applied
	Changed       atomic.Uint64 // records new or updated
	Redelivered   atomic.Uint64 // messages at or below the applied sequence, skipped
	Fenced        atomic.Uint64 // messages from a stale leader, skipped
	BadPatches    atomic.Uint64 // patches that did not decode or apply, skipped
	LastAppliedAt atomic.Int64  // unix nanoseconds of the last commit
}

func newApplier(ctx context.Context, store *storage.Store, stream string, log *slog.Logger) (*applier, error) {
	a := &applier{store: store, stream: stream, log: log, changed: make(chan struct{}), results: map[uint64]*outcome{}}
	err := store.View(ctx, func(r *storage.Reader) error {
		var err error
		a.state, err = r.Applied(stream)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replication: read the applied sequence: %w", err)
	}
	return a, nil
}

// applied is the committed state.
func (a *applier) applied() storage.Applied {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// wait blocks until the applied sequence reaches seq or ctx ends.
func (a *applier) wait(ctx context.Context, seq uint64) error {
	for {
		a.mu.Lock()
		done, ch := a.state.Seq >= seq, a.changed
		a.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("replication: waiting for sequence %d to be applied: %w", seq, ctx.Err())
		}
	}
}

// keepResults is how many of the last messages' results are kept for
// writers that wait for their apply (Node.Apply).
const keepResults = 4096

// outcome is what applying one message did to the local store: the
// syncer.Result a writer gets back (Node.Apply and Leader.Apply are
// syncer.Appliers), and whether the message was skipped whole as
// published under a stale lease term.
type outcome struct {
	syncer.Result
	fenced bool
}

// result merges the outcomes of the messages in seqs; ok is false when one
// is no longer kept (the writer waited too long) or was never applied here.
func (a *applier) result(seqs []uint64) (out outcome, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range seqs {
		r, ok := a.results[s]
		if !ok {
			return out, false
		}
		out.Add(r.Result)
		out.fenced = out.fenced || r.fenced
	}
	return out, true
}

// apply writes msgs (consecutive, ascending) in one transaction.
func (a *applier) apply(ctx context.Context, msgs []message) error {
	if len(msgs) == 0 {
		return nil
	}
	a.mu.Lock()
	hook := a.beforeCommit
	a.mu.Unlock()
	var next storage.Applied
	var applied, patches, changed, redelivered, fenced, bad uint64
	results := map[uint64]*outcome{}
	err := a.store.Update(ctx, func(w *storage.Writer) error {
		applied, patches, changed, redelivered, fenced, bad = 0, 0, 0, 0, 0, 0
		clear(results)
		st, err := w.Applied(a.stream)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.seq <= st.Seq {
				redelivered++
				continue
			}
			st.Seq = m.seq
			res := &outcome{}
			results[m.seq] = res
			if m.fence != 0 && m.fence < st.Fence {
				res.fenced = true
				fenced++
				a.log.Warn("replication: skipped a message of a stale leader", "seq", m.seq, "fence", m.fence, "current_fence", st.Fence)
				continue
			}
			st.Fence = max(st.Fence, m.fence)
			ps, err := decodeBody(m.body)
			if err != nil {
				// Every replica decodes the same bytes the same way: skip
				// the message rather than stall the stream.
				bad++
				res.Rejected = append(res.Rejected, syncer.Rejection{Err: err})
				a.log.Error("replication: skipped a message that does not decode", "seq", m.seq, "err", err)
				continue
			}
			applied++
			for _, p := range ps {
				// A merge error is raised before the record is written, so
				// the transaction stays consistent without that patch.
				out, err := p.Apply(w)
				if err != nil {
					bad++
					field, _ := importer.IsMissing(err)
					res.Rejected = append(res.Rejected, syncer.Rejection{Patch: p, Field: field, Err: err})
					a.log.Error("replication: skipped a patch", "seq", m.seq, "kind", p.Kind(), "key", p.Key(), "err", err)
					continue
				}
				patches++
				if out.Changed() {
					changed++
				}
				res.Count(p, out)
			}
		}
		if err := w.SetApplied(a.stream, st); err != nil {
			return err
		}
		if hook != nil {
			if err := hook(st.Seq); err != nil {
				return err
			}
		}
		next = st
		return nil
	})
	if err != nil {
		return fmt.Errorf("replication: apply messages %d..%d: %w", msgs[0].seq, msgs[len(msgs)-1].seq, err)
	}
	a.stats.Messages.Add(applied)
	a.stats.Patches.Add(patches)
	a.stats.Changed.Add(changed)
	a.stats.Redelivered.Add(redelivered)
	a.stats.Fenced.Add(fenced)
	a.stats.BadPatches.Add(bad)
	a.stats.LastAppliedAt.Store(time.Now().UnixNano())
	a.mu.Lock()
	for seq, r := range results {
		a.results[seq] = r
	}
	for seq := range a.results {
		if seq+keepResults < next.Seq {
			delete(a.results, seq)
		}
	}
	if next.Seq > a.state.Seq {
		a.state = next
		close(a.changed)
		a.changed = make(chan struct{})
	}
	a.mu.Unlock()
	return nil
}

// errDryRun rolls back the transaction of changing.
var errDryRun = errors.New("replication: dry run")

// changing returns the patches that would change the local store, and
// counts the others as unchanged in skipped: those need not travel. A
// steady poll of the live sync re-reads all running work and a full
// reconciliation the whole archive (contract §8); published as they are,
// each full pass would add the archive to the stream again (10M items:
// ~2.8 GB). The check is a write transaction that is rolled back (bbolt's
// single writer, no fsync), against this server's store, which holds this
// writer's own earlier writes (an Apply returns after the local apply) but
// maybe not yet another server's: a patch that equals the stored record
// here and was changed meanwhile by a write in flight elsewhere is not
// sent, as if it had been sent first. A patch that cannot apply (a new
// record missing a field) is kept, for the apply to report.
func (a *applier) changing(ctx context.Context, patches []*importer.Patch) (keep []*importer.Patch, skipped syncer.Result, err error) {
	err = a.store.Update(ctx, func(w *storage.Writer) error {
		keep, skipped = keep[:0], syncer.Result{}
		for _, p := range patches {
			out, err := p.Apply(w)
			switch {
			case err != nil, out.Changed():
				keep = append(keep, p)
			default:
				skipped.Count(p, out)
			}
		}
		return errDryRun
	})
	if !errors.Is(err, errDryRun) {
		return nil, syncer.Result{}, fmt.Errorf("replication: compare with the stored records: %w", err)
	}
	return keep, skipped, nil
}
