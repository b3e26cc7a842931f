package importer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/batchql/batchql/storage"
)

// check is the first pass: parse and validate everything, write nothing.
// It reads the store through read transactions of im.batch records each
// (storage.Store.View), renewed so that a long check does not pin old
// pages.
func (im *run) check() error {
	sc := im.reader()
	im.opTypes = map[string]storage.OperationType{}
	im.last = time.Time{}
	var (
		p       Patch
		n       int64
		pending map[pendingKey]pendingRec
		done    bool
	)
	for !done {
		if err := im.ctx.Err(); err != nil {
			return im.fail(sc, err)
		}
		var failed error // a finished error of the pass
		err := im.s.View(im.ctx, func(r *storage.Reader) error {
			for i := 0; i < im.batch; i++ {
				if err := im.ctx.Err(); err != nil {
					failed = im.fail(sc, err)
					return failed
				}
				rec, err := sc.next()
				if err == io.EOF {
					done = true
					if sc.values == 0 {
						failed = &Error{File: im.name, Reason: errEmpty}
						return failed
					}
					im.stats.Warnings = append(im.stats.Warnings, sc.warnings...)
					return nil
				}
				if err == nil {
					err = p.parse(rec)
				}
				if err != nil {
					if len(pending) > 0 {
						// an earlier record's missing field is the first error
						limit := sc.records + 1
						var ie *Error
						if errors.As(err, &ie) {
							limit = ie.Record
						}
						if perr := im.resolvePending(pending, limit); perr != nil {
							failed = perr
							return failed
						}
					}
					failed = im.fail(sc, err)
					return failed
				}
				n++
				if p.kind == kindOp {
					im.opTypes[p.o.BatchOperationKey] = p.o.BatchOperationType
				}
				if field, why := im.missingForNew(&p); field != "" {
					ok, err := im.storedBase(r, &p, field)
					if err != nil {
						failed = im.fail(sc, err)
						return failed
					}
					if !ok {
						k := naturalKey(&p)
						if _, seen := pending[k]; !seen {
							if pending == nil {
								pending = map[pendingKey]pendingRec{}
							}
							pending[k] = pendingRec{record: rec.num, line: rec.fieldLine(fieldIndex[field]), field: field, why: why}
						}
					}
				}
				im.progress("check", n, sc, false)
			}
			return nil
		})
		if failed != nil {
			return failed
		}
		if err != nil {
			return im.fail(sc, err)
		}
	}
	if len(pending) > 0 {
		if err := im.resolvePending(pending, math.MaxInt64); err != nil {
			return err
		}
	}
	im.progress("check", n, sc, true)
	return nil
}

// errEmpty refuses an input without a single JSON value: what curl prints
// when the engine is down, or a file that was never written.
const errEmpty = "empty input: no records (an engine without records sends [] or {\"items\": []}; is the engine down?)"

// missingForNew returns the first field a new record of p's kind needs and p
// lacks (after the item's operationType fallback to operations seen so far),
// and why it is needed.
func (im *run) missingForNew(p *Patch) (field, why string) {
	if f := p.missingForNew(); f != "" {
		why := "a new " + kindNames[p.kind] + " needs it"
		switch p.kind {
		case kindBatch, kindStats, kindHistoric:
			why = "a new batch needs it"
		}
		return f, why
	}
	if p.kind == kindItem && !p.has(fOperationType) {
		if _, ok := im.opTypes[p.it.BatchOperationKey]; !ok {
			return "operationType", "a new batch operation item needs it, or its batch operation stored or earlier in the file"
		}
	}
	return "", ""
}

// storedBase reports whether the database supplies what p lacks: the record
// itself, or for an item's operationType its operation.
func (im *run) storedBase(r *storage.Reader, p *Patch, field string) (bool, error) {
	switch p.kind {
	case kindOp:
		return r.HasBatchOperation(p.o.BatchOperationKey), nil
	case kindItem:
		if r.HasItem(p.it.BatchOperationKey, p.it.ItemKey) {
			return true, nil
		}
		if field != "operationType" {
			return false, nil
		}
		op, err := r.BatchOperation(p.it.BatchOperationKey)
		if err != nil || op == nil {
			return false, err
		}
		im.opTypes[op.BatchOperationKey] = op.BatchOperationType
		return true, nil
	default:
		return r.HasBatch(p.b.BatchID), nil
	}
}

// resolvePending runs when records lacked fields a new record needs and
// their record was not stored: each is fine when a record with the same key
// comes earlier in the file (that one was complete, or it would have been
// the first pending one). It rereads the file up to the last pending record
// and returns the earliest unresolved one, before record limit, as an error.
func (im *run) resolvePending(pending map[pendingKey]pendingRec, limit int64) error {
	var last int64
	for _, pr := range pending {
		last = max(last, pr.record)
	}
	sc := im.reader()
	var p Patch
	for sc.records < last {
		if err := im.ctx.Err(); err != nil {
			return im.fail(sc, err)
		}
		rec, err := sc.next()
		if err != nil {
			break // the first pass reported or will report it
		}
		if p.parse(rec) != nil {
			break
		}
		k := naturalKey(&p)
		if pr, ok := pending[k]; ok && rec.num < pr.record {
			delete(pending, k)
		}
	}
	var first *pendingRec
	var firstKey pendingKey
	for k, pr := range pending {
		if pr.record < limit && (first == nil || pr.record < first.record) {
			first, firstKey = &pr, k
		}
	}
	if first == nil {
		return nil
	}
	what := map[recKind]string{kindBatch: "batch with id", kindOp: "batch operation with key", kindItem: "item with key"}[firstKey.kind]
	key := strings.ReplaceAll(firstKey.key, "\x00", "/")
	return &Error{
		File: im.name, Record: first.record, Line: first.line, Field: first.field,
		Reason: fmt.Sprintf("is missing: %s, and no %s %q is stored or earlier in the file", first.why, what, key),
	}
}
