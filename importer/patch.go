package importer

import (
	"errors"
	"fmt"
	"time"

	"github.com/batchql/batchql/storage"
)

// Patch is one engine record, validated and normalized into an idempotent
// upsert: the values of the fields the record had, and which fields those
// were. Applying it sets those fields and keeps the stored values of the
// others, so applying it twice, or again after a crash, gives the same
// stored record; a record that is not stored yet must have the fields a new
// one needs (Apply returns an error naming the missing field otherwise).
//
// A Patch says what changed, independent of how it is stored: the importer
// makes patches from files and applies them through storage's upsert seam
// (Apply); the same patches can come from the engines' REST responses (they
// have the same JSON) or travel between replicas. Its JSON form (MarshalJSON,
// UnmarshalJSON) is the engines' own record format restricted to the present
// fields, normalized (legacy item states as ACTIVE, dates in UTC, the
// processInstanceKey -1 of decision items as null); decoding it runs the
// importer's validation, so a decoded patch is as trustworthy as an
// imported one.
//
// Parsing reuses a Patch's memory: the importer decodes every record into
// one Patch without allocating per field.
type Patch struct {
	kind recKind
	bits uint64
	b    storage.Batch
	o    storage.BatchOperation
	it   storage.BatchOperationItem
	// backing for the item's pointers: items are the bulk of large imports
	pik, rpik, emsg string
	pdate           time.Time
	lastOp          string // the last item's operation key
}

func (p *Patch) has(f int) bool { return p.bits&(1<<f) != 0 }

// Kind is the record's kind, one of KindBatch, ..., KindItem ("" for the
// zero Patch).
func (p *Patch) Kind() string { return kindNames[p.kind] }

// Key is the record's natural key: a batch's id, an operation's key, or an
// item's operation key and item key joined by "/".
func (p *Patch) Key() string {
	switch p.kind {
	case kindOp:
		return p.o.BatchOperationKey
	case kindItem:
		return p.it.BatchOperationKey + "/" + p.it.ItemKey
	}
	return p.b.BatchID
}

// Has reports whether the record had the field (by its JSON name).
func (p *Patch) Has(field string) bool {
	f, ok := fieldIndex[field]
	return ok && p.has(f)
}

// Fields lists the record's fields (JSON names) in a fixed order.
func (p *Patch) Fields() []string {
	var out []string
	for f := range numFields {
		if p.has(f) {
			out = append(out, fieldNames[f])
		}
	}
	return out
}

// missingError is a patch that lacks a field a new record needs, applied
// where no record with its key is stored.
type missingError struct {
	kind, key, field string
}

func (e *missingError) Error() string {
	return fmt.Sprintf("%s %s: field %q is missing and the record is not stored", e.kind, e.key, e.field)
}

// missingForNew returns the first field a new record of p's kind needs and
// p lacks, not counting an item's operationType (which may come from its
// operation).
func (p *Patch) missingForNew() string {
	switch p.kind {
	case kindBatch, kindStats, kindHistoric:
		if !p.has(fType) {
			return "type"
		}
	case kindOp, kindItem:
		if !p.has(fState) {
			return "state"
		}
	}
	return ""
}

// Apply upserts p into the store within w's transaction and reports what
// it did. An item without operationType that is not stored takes the type of
// its stored operation.
func (p *Patch) Apply(w *storage.Writer) (storage.Outcome, error) { return p.apply(w, nil) }

// apply is Apply with a cache of operation types (nil for none), which
// it fills.
func (p *Patch) apply(w *storage.Writer, opTypes map[string]storage.OperationType) (storage.Outcome, error) {
	switch p.kind {
	case kindOp:
		return w.UpsertBatchOperation(p.o.BatchOperationKey, func(o *storage.BatchOperation) (*storage.BatchOperation, error) {
			if o == nil {
				if f := p.missingForNew(); f != "" {
					return nil, p.missing(f)
				}
				o = &storage.BatchOperation{BatchOperationKey: p.o.BatchOperationKey, Errors: []storage.BatchOperationError{}}
			}
			p.applyOperation(o)
			return o, nil
		})
	case kindItem:
		return w.UpsertItem(p.it.BatchOperationKey, p.it.ItemKey, func(it *storage.BatchOperationItem) (*storage.BatchOperationItem, error) {
			if it == nil {
				if f := p.missingForNew(); f != "" {
					return nil, p.missing(f)
				}
				it = &storage.BatchOperationItem{BatchOperationKey: p.it.BatchOperationKey, ItemKey: p.it.ItemKey}
				if !p.has(fOperationType) {
					t, err := p.operationType(w, opTypes)
					if err != nil {
						return nil, err
					}
					it.OperationType = t
				}
			}
			p.applyItem(it)
			return it, nil
		})
	case kindNone:
		return storage.Unchanged, errors.New("import: empty patch")
	}
	return w.UpsertBatch(p.b.BatchID, func(b *storage.Batch) (*storage.Batch, error) {
		if b == nil {
			if f := p.missingForNew(); f != "" {
				return nil, p.missing(f)
			}
			b = &storage.Batch{BatchID: p.b.BatchID}
		}
		p.applyBatch(b)
		return b, nil
	})
}

func (p *Patch) missing(field string) error {
	return &missingError{kind: p.Kind(), key: p.Key(), field: field}
}

// operationType is the type of the new item's operation: cached, or
// stored.
func (p *Patch) operationType(w *storage.Writer, opTypes map[string]storage.OperationType) (storage.OperationType, error) {
	if t, ok := opTypes[p.it.BatchOperationKey]; ok {
		return t, nil
	}
	op, err := w.BatchOperation(p.it.BatchOperationKey)
	if err != nil {
		return "", err
	}
	if op == nil {
		return "", p.missing("operationType")
	}
	if opTypes != nil {
		opTypes[op.BatchOperationKey] = op.BatchOperationType
	}
	return op.BatchOperationType, nil
}

func (p *Patch) applyBatch(b *storage.Batch) {
	s := &p.b
	if p.has(fType) {
		b.Type = s.Type
	}
	if p.has(fTotalJobs) {
		b.TotalJobs = s.TotalJobs
	}
	if p.has(fJobsCreated) {
		b.JobsCreated = s.JobsCreated
	}
	if p.has(fBatchJobsPerSeed) {
		b.BatchJobsPerSeed = s.BatchJobsPerSeed
	}
	if p.has(fInvocationsPerBatchJob) {
		b.InvocationsPerBatchJob = s.InvocationsPerBatchJob
	}
	if p.has(fSeedJobDefinitionID) {
		b.SeedJobDefinitionID = s.SeedJobDefinitionID
	}
	if p.has(fMonitorJobDefinitionID) {
		b.MonitorJobDefinitionID = s.MonitorJobDefinitionID
	}
	if p.has(fBatchJobDefinitionID) {
		b.BatchJobDefinitionID = s.BatchJobDefinitionID
	}
	if p.has(fSuspended) {
		b.Suspended = s.Suspended
	}
	if p.has(fTenantID) {
		b.TenantID = s.TenantID
	}
	if p.has(fCreateUserID) {
		b.CreateUserID = s.CreateUserID
	}
	if p.has(fStartTime) {
		b.StartTime = s.StartTime
	}
	if p.has(fExecutionStartTime) {
		b.ExecutionStartTime = s.ExecutionStartTime
	}
	if p.has(fEndTime) {
		b.EndTime = s.EndTime
	}
	if p.has(fRemovalTime) {
		b.RemovalTime = s.RemovalTime
	}
	if s.Statistics != nil {
		st := storage.BatchStatistics{}
		if b.Statistics != nil {
			st = *b.Statistics
		}
		if p.has(fRemainingJobs) {
			st.RemainingJobs = s.Statistics.RemainingJobs
		}
		if p.has(fCompletedJobs) {
			st.CompletedJobs = s.Statistics.CompletedJobs
		}
		if p.has(fFailedJobs) {
			st.FailedJobs = s.Statistics.FailedJobs
		}
		b.Statistics = &st
	}
}

func (p *Patch) applyOperation(o *storage.BatchOperation) {
	s := &p.o
	o.BatchOperationType = s.BatchOperationType // always present: it tells the kind
	if p.has(fState) {
		o.State = s.State
	}
	if p.has(fStartDate) {
		o.StartDate = s.StartDate
	}
	if p.has(fEndDate) {
		o.EndDate = s.EndDate
	}
	if p.has(fActorType) {
		o.ActorType = s.ActorType
	}
	if p.has(fActorID) {
		o.ActorID = s.ActorID
	}
	if p.has(fOperationsTotalCount) {
		o.OperationsTotalCount = s.OperationsTotalCount
	}
	if p.has(fOperationsFailedCount) {
		o.OperationsFailedCount = s.OperationsFailedCount
	}
	if p.has(fOperationsCompletedCount) {
		o.OperationsCompletedCount = s.OperationsCompletedCount
	}
	if p.has(fErrors) {
		o.Errors = s.Errors
	}
}

// applyItem merges p into it. The pointers are copied into it, so it must
// be stored before p is reused.
func (p *Patch) applyItem(it *storage.BatchOperationItem) {
	s := &p.it
	if p.has(fOperationType) {
		it.OperationType = s.OperationType
	}
	if p.has(fState) {
		it.State = s.State
	}
	if p.has(fProcessInstanceKey) {
		it.ProcessInstanceKey = s.ProcessInstanceKey
	}
	if p.has(fRootProcessInstanceKey) {
		it.RootProcessInstanceKey = s.RootProcessInstanceKey
	}
	if p.has(fProcessedDate) {
		it.ProcessedDate = s.ProcessedDate
	}
	if p.has(fErrorMessage) {
		it.ErrorMessage = s.ErrorMessage
	}
}
