package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Import reads the engines' JSON (contract §5) into the store.
//
// A file is read twice. The check pass parses and validates every record and
// checks the rules that depend on stored state (a record that lacks a field a
// new record needs must update a record that is stored or comes earlier in
// the file); it writes nothing, so bad input leaves the database untouched.
// The write pass reads the file again and upserts the records in write
// transactions of ImportOptions.BatchSize records. Upserts are idempotent, so
// when the write pass stops part-way (crash, cancelled context) the database
// is consistent and importing the file again completes it.
//
// Neither pass holds the file in memory: a small hand-written JSON scanner
// streams it (a top-level array or the "items" of a search response are read
// one element at a time) and splits each record once into one json.RawMessage
// per known field, sub-slices of its read buffer, without allocating.
// encoding/json (json.Decoder into a struct of json.RawMessage) was measured
// at ~360k item records/s for decoding alone, too slow for two passes within
// the import's speed target (300k records/s); the scanner, validation
// included, is more than twice as fast, and it knows the line of every field
// for error messages.

// ImportOptions tune ImportFile and ImportReader.
type ImportOptions struct {
	// BatchSize is the number of records per write transaction; 0 means 10000.
	BatchSize int
	// Progress, when set, is called at most about 10 times a second and at
	// the end of each phase.
	Progress func(ImportProgress)
}

// ImportProgress reports how far a phase has got.
type ImportProgress struct {
	Phase      string // "check" or "write"
	Records    int64  // records done in this phase
	Bytes      int64  // bytes of the file consumed so far
	TotalBytes int64  // file size (0 when unknown)
}

// KindCounts counts the records of one kind. Updated counts records that were
// already stored (or came earlier in the file), whether or not a value
// changed: importing a file twice reports every record as updated the second
// time. Unchanged records are not rewritten.
type KindCounts struct{ New, Updated int64 }

// Record kinds, the keys of ImportStats.Kinds.
const (
	KindBatch          = "batch"
	KindBatchStats     = "batch statistics"
	KindHistoricBatch  = "historic batch"
	KindBatchOperation = "batch operation"
	KindItem           = "batch operation item"
)

// ImportStats is what an import did.
type ImportStats struct {
	Records int64
	// Kinds always holds all five kinds (KindBatch, ...), zero counts
	// included. A Camunda 7 record counts under the kind it was recognised
	// as, although all three merge into one Batch.
	Kinds   map[string]*KindCounts
	Elapsed time.Duration
}

// ImportError is bad input. Field is the JSON field ("" for problems of the
// whole record or of the JSON syntax), nested ones written like
// errors[0].type. Value is the JSON text of the offending value, so a string
// keeps its quotes ("DONE") and a missing field has none (""), shortened to
// about 80 characters. Line is the line of the field (of the record for
// whole-record problems, of the error for malformed JSON), 0 when unknown.
type ImportError struct {
	File   string
	Record int64 // 1-based position of the record in the file
	Line   int64
	Field  string
	Value  string
	Reason string
}

func (e *ImportError) Error() string {
	var b strings.Builder
	b.WriteString("import ")
	b.WriteString(e.File)
	if e.Record > 0 {
		b.WriteString(" record ")
		b.WriteString(strconv.FormatInt(e.Record, 10))
	}
	if e.Line > 0 {
		b.WriteString(" (line ")
		b.WriteString(strconv.FormatInt(e.Line, 10))
		b.WriteString(")")
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString("field ")
		b.WriteString(strconv.Quote(e.Field))
		b.WriteString(": ")
	}
	if e.Value != "" {
		b.WriteString("value ")
		b.WriteString(e.Value)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ImportFile imports one file (one record, an array of records, a search
// response {items, page}, or NDJSON; the format is told from the content).
// On bad input it returns an *ImportError and writes nothing.
func (s *Store) ImportFile(ctx context.Context, path string, opts ImportOptions) (*ImportStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	defer f.Close()
	return s.importFile(ctx, path, f, opts)
}

// ImportReader spools r (e.g. standard input, name "-") to a temp file, then
// imports it as ImportFile does; name is used in messages.
func (s *Store) ImportReader(ctx context.Context, name string, r io.Reader, opts ImportOptions) (*ImportStats, error) {
	tmp, err := os.CreateTemp("", "batchql-import-*.json")
	if err != nil {
		return nil, fmt.Errorf("import %s: spool: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("import %s: %w", name, err)
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := tmp.Write(buf[:n]); err != nil {
				return nil, fmt.Errorf("import %s: spool: %w", name, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("import %s: read: %w", name, rerr)
		}
	}
	return s.importFile(ctx, name, tmp, opts)
}

const defaultImportBatchSize = 10000

type importer struct {
	s     *Store
	ctx   context.Context
	name  string
	f     *os.File
	size  int64
	batch int
	prog  func(ImportProgress)
	phase string    // of the last progress report
	last  time.Time // when it was made
	stats *ImportStats
	// opTypes maps operation keys to their type for items that lack
	// operationType (Camunda 8.8): operations seen so far in the file and
	// operations looked up in the database.
	opTypes map[string]OperationType
	pk, enc []byte
}

func (s *Store) importFile(ctx context.Context, name string, f *os.File, opts ImportOptions) (*ImportStats, error) {
	start := time.Now()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	im := &importer{
		s: s, ctx: ctx, name: name, f: f, size: fi.Size(),
		batch: opts.BatchSize, prog: opts.Progress,
		stats: &ImportStats{Kinds: map[string]*KindCounts{}},
	}
	if im.batch <= 0 {
		im.batch = defaultImportBatchSize
	}
	for _, k := range kindNames[1:] {
		im.stats.Kinds[k] = &KindCounts{}
	}
	if err := im.check(); err != nil {
		return nil, err
	}
	if err := im.write(); err != nil {
		return nil, err
	}
	im.stats.Elapsed = time.Since(start)
	return im.stats, nil
}

// reader opens a fresh pass over the file.
func (im *importer) reader() *jsonScanner {
	return newJSONScanner(io.NewSectionReader(im.f, 0, im.size))
}

// fail completes an error of a pass: bad input becomes an *ImportError
// naming the file, anything else is wrapped with file and record.
func (im *importer) fail(sc *jsonScanner, err error) error {
	var ie *ImportError
	if errors.As(err, &ie) {
		ie.File = im.name
		return ie
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("import %s: %w", im.name, err)
	}
	return fmt.Errorf("import %s record %d: %w", im.name, sc.records, err)
}

func (im *importer) progress(phase string, n int64, sc *jsonScanner, final bool) {
	if im.prog == nil {
		return
	}
	if phase != im.phase {
		// A new phase reports at once: the throttle's clock is the old
		// phase's, and a fast phase would otherwise report nothing.
		im.phase, im.last = phase, time.Time{}
	}
	if !final {
		if n&63 != 0 {
			return
		}
		if now := time.Now(); now.Sub(im.last) >= 100*time.Millisecond {
			im.last = now
		} else {
			return
		}
	}
	im.prog(ImportProgress{Phase: phase, Records: n, Bytes: sc.offset(), TotalBytes: im.size})
}

// pendingKey names a record that needs one stored or earlier in the file.
type pendingKey struct {
	kind recKind // kindBatch, kindOp or kindItem
	key  string  // natural key (item: op key, NUL, item key)
}

type pendingRec struct {
	record, line int64
	field, why   string
}

func naturalKey(p *parsed) pendingKey {
	switch p.kind {
	case kindOp:
		return pendingKey{kindOp, p.o.BatchOperationKey}
	case kindItem:
		return pendingKey{kindItem, p.it.BatchOperationKey + "\x00" + p.it.ItemKey}
	}
	return pendingKey{kindBatch, p.b.BatchID}
}

// check is the first pass: parse and validate everything, write nothing.
func (im *importer) check() error {
	sc := im.reader()
	im.opTypes = map[string]OperationType{}
	im.last = time.Time{}
	var (
		tx      *bolt.Tx
		txAt    int64
		p       parsed
		n       int64
		pending map[pendingKey]pendingRec
	)
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	// view gives a read transaction, renewed now and then so that a long
	// check does not pin old pages.
	view := func() (*Reader, error) {
		if tx != nil && n-txAt >= int64(im.batch) {
			tx.Rollback()
			tx = nil
		}
		if tx == nil {
			var err error
			if tx, err = im.s.db.Begin(false); err != nil {
				return nil, err
			}
			txAt = n
		}
		return &Reader{tx: tx}, nil
	}
	for {
		if err := im.ctx.Err(); err != nil {
			return im.fail(sc, err)
		}
		rec, err := sc.next()
		if err == io.EOF {
			break
		}
		if err == nil {
			err = p.parse(rec)
		}
		if err != nil {
			if len(pending) > 0 {
				// an earlier record's missing field is the first error
				limit := sc.records + 1
				var ie *ImportError
				if errors.As(err, &ie) {
					limit = ie.Record
				}
				if perr := im.resolvePending(pending, limit); perr != nil {
					return perr
				}
			}
			return im.fail(sc, err)
		}
		n++
		if p.kind == kindOp {
			im.opTypes[p.o.BatchOperationKey] = p.o.BatchOperationType
		}
		if field, why := im.missingForNew(&p); field != "" {
			r, err := view()
			if err != nil {
				return im.fail(sc, err)
			}
			ok, err := im.storedBase(r, &p, field)
			if err != nil {
				return im.fail(sc, err)
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
	if len(pending) > 0 {
		if err := im.resolvePending(pending, math.MaxInt64); err != nil {
			return err
		}
	}
	im.progress("check", n, sc, true)
	return nil
}

// missingForNew returns the first field a new record of p's kind needs and p
// lacks (after the item's operationType fallback to operations seen so far),
// and why it is needed.
func (im *importer) missingForNew(p *parsed) (field, why string) {
	switch p.kind {
	case kindBatch, kindStats, kindHistoric:
		if !p.has(fType) {
			return "type", "a new batch needs it"
		}
	case kindOp:
		if !p.has(fState) {
			return "state", "a new batch operation needs it"
		}
	case kindItem:
		if !p.has(fState) {
			return "state", "a new batch operation item needs it"
		}
		if !p.has(fOperationType) {
			if _, ok := im.opTypes[p.it.BatchOperationKey]; !ok {
				return "operationType", "a new batch operation item needs it, or its batch operation stored or earlier in the file"
			}
		}
	}
	return "", ""
}

// storedBase reports whether the database supplies what p lacks: the record
// itself, or for an item's operationType its operation.
func (im *importer) storedBase(r *Reader, p *parsed, field string) (bool, error) {
	switch p.kind {
	case kindOp:
		return r.tx.Bucket(operationKind.primary.bucket).Get(appendKey(im.pk[:0], p.o.BatchOperationKey)) != nil, nil
	case kindItem:
		im.pk = appendKey(appendKey(im.pk[:0], p.it.BatchOperationKey), p.it.ItemKey)
		if r.tx.Bucket(itemKind.primary.bucket).Get(im.pk) != nil {
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
		return r.tx.Bucket(batchKind.primary.bucket).Get(appendKey(im.pk[:0], p.b.BatchID)) != nil, nil
	}
}

// resolvePending runs when records lacked fields a new record needs and
// their record was not stored: each is fine when a record with the same key
// comes earlier in the file (that one was complete, or it would have been
// the first pending one). It rereads the file up to the last pending record
// and returns the earliest unresolved one, before record limit, as an error.
func (im *importer) resolvePending(pending map[pendingKey]pendingRec, limit int64) error {
	var last int64
	for _, pr := range pending {
		last = max(last, pr.record)
	}
	sc := im.reader()
	var p parsed
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
	return &ImportError{
		File: im.name, Record: first.record, Line: first.line, Field: first.field,
		Reason: fmt.Sprintf("is missing: %s, and no %s %q is stored or earlier in the file", first.why, what, key),
	}
}

// write is the second pass: upsert in transactions of im.batch records.
func (im *importer) write() error {
	fi, err := im.f.Stat()
	if err != nil {
		return fmt.Errorf("import %s: %w", im.name, err)
	}
	if fi.Size() != im.size {
		return fmt.Errorf("import %s: the file changed while it was imported", im.name)
	}
	sc := im.reader()
	im.opTypes = map[string]OperationType{}
	im.last = time.Time{} // the first report of a phase comes early
	var (
		p    parsed
		n    int64
		done bool
	)
	rec, err := sc.next()
	if err == io.EOF {
		done = true
	} else if err != nil {
		return im.fail(sc, err)
	}
	for !done {
		err := im.s.Update(im.ctx, func(w *Writer) error {
			for i := 0; i < im.batch; i++ {
				if i > 0 {
					if err := im.ctx.Err(); err != nil {
						return err
					}
					var err error
					if rec, err = sc.next(); err == io.EOF {
						done = true
						return nil
					} else if err != nil {
						return err
					}
				}
				if err := p.parse(rec); err != nil {
					return err
				}
				if err := im.upsert(w, &p, rec); err != nil {
					return err
				}
				n++
				im.stats.Records++
				im.progress("write", n, sc, false)
			}
			return nil
		})
		if err != nil {
			return im.fail(sc, err)
		}
		if !done {
			if err := im.ctx.Err(); err != nil {
				return im.fail(sc, err)
			}
			if rec, err = sc.next(); err == io.EOF {
				done = true
			} else if err != nil {
				return im.fail(sc, err)
			}
		}
	}
	im.progress("write", n, sc, true)
	return nil
}

// upsert merges p into the stored record (if any) and stores the result
// unless nothing changed.
func (im *importer) upsert(w *Writer, p *parsed, rec *rawRecord) error {
	counts := im.stats.Kinds[kindNames[p.kind]]
	var (
		old   []byte
		isNew bool
		err   error
	)
	missing := func(field string) error {
		return &ImportError{Record: rec.num, Line: rec.fieldLine(fieldIndex[field]), Field: field,
			Reason: "is missing and the record is not stored (the file changed between the passes?)"}
	}
	switch p.kind {
	case kindOp:
		im.pk = appendKey(im.pk[:0], p.o.BatchOperationKey)
		im.opTypes[p.o.BatchOperationKey] = p.o.BatchOperationType
		old = w.tx.Bucket(operationKind.primary.bucket).Get(im.pk)
		var o *BatchOperation
		if old != nil {
			if o, err = decodeOperation(old); err != nil {
				return err
			}
		} else {
			if !p.has(fState) {
				return missing("state")
			}
			o = &BatchOperation{BatchOperationKey: p.o.BatchOperationKey, Errors: []BatchOperationError{}}
		}
		p.applyOperation(o)
		if old != nil {
			if im.enc, err = encodeOperation(o); err == nil && bytes.Equal(im.enc, old) {
				counts.Updated++
				return nil
			}
		}
		isNew, err = w.PutBatchOperation(o)
	case kindItem:
		im.pk = appendKey(appendKey(im.pk[:0], p.it.BatchOperationKey), p.it.ItemKey)
		old = w.tx.Bucket(itemKind.primary.bucket).Get(im.pk)
		var it *BatchOperationItem
		if old != nil {
			if it, err = decodeItem(im.pk, old); err != nil {
				return err
			}
		} else {
			if !p.has(fState) {
				return missing("state")
			}
			it = &BatchOperationItem{BatchOperationKey: p.it.BatchOperationKey, ItemKey: p.it.ItemKey}
			if !p.has(fOperationType) {
				t, ok := im.opTypes[p.it.BatchOperationKey]
				if !ok {
					op, err := w.BatchOperation(p.it.BatchOperationKey)
					if err != nil {
						return err
					}
					if op == nil {
						return missing("operationType")
					}
					t = op.BatchOperationType
					im.opTypes[op.BatchOperationKey] = t
				}
				it.OperationType = t
			}
		}
		p.applyItem(it)
		if old != nil {
			if im.enc, err = encodeItem(it); err == nil && bytes.Equal(im.enc, old) {
				counts.Updated++
				return nil
			}
		}
		isNew, err = w.PutItem(it)
	default:
		im.pk = appendKey(im.pk[:0], p.b.BatchID)
		old = w.tx.Bucket(batchKind.primary.bucket).Get(im.pk)
		var b *Batch
		if old != nil {
			if b, err = decodeBatch(old); err != nil {
				return err
			}
		} else {
			if !p.has(fType) {
				return missing("type")
			}
			b = &Batch{BatchID: p.b.BatchID}
		}
		p.applyBatch(b)
		if old != nil && bytes.Equal(encodeBatch(b), old) {
			counts.Updated++
			return nil
		}
		isNew, err = w.PutBatch(b)
	}
	if err != nil {
		return err
	}
	if isNew {
		counts.New++
	} else {
		counts.Updated++
	}
	return nil
}
