package syncer

import (
	"context"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
)

// Applier takes the sync's output: a stream of normalized, idempotent
// upserts (importer.Patch), in the order the engines were read. The sync
// says what changed; an Applier decides how it is stored. StoreApplier
// writes to the local bbolt; replication can put a log between the sync
// and the stores (publish the patches' JSON, apply it on every replica).
type Applier interface {
	// Apply applies patches in order. Patches that cannot be applied yet
	// (a new record lacking a field it needs, e.g. an item whose operation
	// is not stored) come back in Rejected; the others are applied. An
	// error means the store failed and the patches may be applied in part
	// (applying them again is harmless).
	Apply(ctx context.Context, patches []*importer.Patch) (Result, error)
}

// Result is what Apply did.
type Result struct {
	Written  int             // records new or changed
	Counts   importer.Counts // applied patches by kind and outcome; nil when none
	Rejected []Rejection
}

// Count adds one applied patch and its outcome.
func (r *Result) Count(p *importer.Patch, o storage.Outcome) {
	if o.Changed() {
		r.Written++
	}
	if r.Counts == nil {
		r.Counts = importer.Counts{}
	}
	r.Counts.Add(p, o)
}

// Add adds o to r.
func (r *Result) Add(o Result) {
	r.Written += o.Written
	r.Rejected = append(r.Rejected, o.Rejected...)
	if len(o.Counts) > 0 {
		if r.Counts == nil {
			r.Counts = importer.Counts{}
		}
		r.Counts.Merge(o.Counts)
	}
}

// Rejection is a patch an Applier could not apply. Field is the missing
// field when that was why (importer.IsMissing), else "". Patch is nil when
// the Applier lost a batch of patches whole (replication: a stream message
// that did not decode).
type Rejection struct {
	Patch *importer.Patch
	Field string
	Err   error
}

// StoreApplier applies patches to a store through importer.Patch.Apply
// (storage's upsert seam) in write transactions of at most TxSize patches:
// a record whose stored value would not change is not rewritten, and a
// shutdown (ctx cancelled) stops between transactions.
type StoreApplier struct {
	Store  *storage.Store
	TxSize int // 0 means 1000
}

// Apply implements Applier.
func (a *StoreApplier) Apply(ctx context.Context, patches []*importer.Patch) (Result, error) {
	var res Result
	size := a.TxSize
	if size <= 0 {
		size = 1000
	}
	for len(patches) > 0 {
		chunk := patches[:min(size, len(patches))]
		patches = patches[len(chunk):]
		var part Result
		err := a.Store.Update(ctx, func(w *storage.Writer) error {
			part = Result{}
			for _, p := range chunk {
				out, err := p.Apply(w)
				if err != nil {
					if field, ok := importer.IsMissing(err); ok {
						part.Rejected = append(part.Rejected, Rejection{Patch: p, Field: field, Err: err})
						continue
					}
					return err
				}
				part.Count(p, out)
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		res.Add(part)
	}
	return res, nil
}
