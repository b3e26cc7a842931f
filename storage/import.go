package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	last  time.Time
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

// ---------------------------------------------------------------------------
// Records: the known fields, kind detection, validation and merge.

// The fields the importer knows, across all kinds. A record's other fields
// are ignored.
const (
	fID = iota
	fType
	fTotalJobs
	fJobsCreated
	fBatchJobsPerSeed
	fInvocationsPerBatchJob
	fSeedJobDefinitionID
	fMonitorJobDefinitionID
	fBatchJobDefinitionID
	fSuspended
	fTenantID
	fCreateUserID
	fStartTime
	fExecutionStartTime
	fEndTime
	fRemovalTime
	fRemainingJobs
	fCompletedJobs
	fFailedJobs
	fBatchOperationKey
	fBatchOperationType
	fState
	fStartDate
	fEndDate
	fActorType
	fActorID
	fOperationsTotalCount
	fOperationsFailedCount
	fOperationsCompletedCount
	fErrors
	fItemKey
	fOperationType
	fProcessInstanceKey
	fRootProcessInstanceKey
	fProcessedDate
	fErrorMessage
	numFields
)

var fieldNames = [numFields]string{
	"id", "type", "totalJobs", "jobsCreated", "batchJobsPerSeed", "invocationsPerBatchJob",
	"seedJobDefinitionId", "monitorJobDefinitionId", "batchJobDefinitionId", "suspended",
	"tenantId", "createUserId", "startTime", "executionStartTime", "endTime", "removalTime",
	"remainingJobs", "completedJobs", "failedJobs",
	"batchOperationKey", "batchOperationType", "state", "startDate", "endDate", "actorType",
	"actorId", "operationsTotalCount", "operationsFailedCount", "operationsCompletedCount", "errors",
	"itemKey", "operationType", "processInstanceKey", "rootProcessInstanceKey", "processedDate",
	"errorMessage",
}

var fieldIndex = func() map[string]int {
	m := make(map[string]int, numFields)
	for i, n := range fieldNames {
		m[n] = i
	}
	return m
}()

type recKind uint8

const (
	kindNone recKind = iota
	kindBatch
	kindStats
	kindHistoric
	kindOp
	kindItem
)

var kindNames = [...]string{"", KindBatch, KindBatchStats, KindHistoricBatch, KindBatchOperation, KindItem}

// rawRecord is one record split into its known fields: each is the JSON text
// of the value (nil when the field is absent, "null" for JSON null), a
// sub-slice of the scanner's buffer valid until the next record is read.
type rawRecord struct {
	num    int64 // 1-based record number in the file
	line   int64 // line of the record's first byte
	val    [numFields]json.RawMessage
	lines  [numFields]int64 // line of each present field
	spans  [numFields][2]int
	keys   [][2]int // spans of all top-level keys, for messages
	body   []byte   // the whole record
	hasKey uint64
}

func (r *rawRecord) has(f int) bool { return r.hasKey&(1<<f) != 0 }

func (r *rawRecord) fieldLine(f int) int64 {
	if f >= 0 && f < numFields && r.has(f) {
		return r.lines[f]
	}
	return r.line
}

func (r *rawRecord) detect() recKind {
	switch {
	case r.has(fBatchOperationKey) && r.has(fItemKey):
		return kindItem
	case r.has(fBatchOperationKey) && r.has(fBatchOperationType):
		return kindOp
	case r.has(fID) && r.has(fTotalJobs):
		switch {
		case r.has(fRemainingJobs) || r.has(fCompletedJobs) || r.has(fFailedJobs):
			return kindStats
		case r.has(fEndTime) || r.has(fRemovalTime):
			return kindHistoric
		}
		return kindBatch
	}
	return kindNone
}

func (r *rawRecord) recordErr(reason string) *ImportError {
	return &ImportError{Record: r.num, Line: r.line, Reason: reason}
}

func (r *rawRecord) fieldErr(f int, reason string) *ImportError {
	return &ImportError{Record: r.num, Line: r.fieldLine(f), Field: fieldNames[f], Value: shorten(r.val[f]), Reason: reason}
}

func (r *rawRecord) missingErr(f int, reason string) *ImportError {
	return &ImportError{Record: r.num, Line: r.line, Field: fieldNames[f], Reason: reason}
}

// noKindErr explains a record of no known kind, naming the key field that
// is missing when the other fields make the intended kind clear.
func (r *rawRecord) noKindErr() *ImportError {
	switch {
	case r.has(fItemKey):
		return r.missingErr(fBatchOperationKey, "is missing: a batch operation item record needs batchOperationKey and itemKey")
	case r.has(fBatchOperationType):
		return r.missingErr(fBatchOperationKey, "is missing: a batch operation record needs batchOperationKey and batchOperationType")
	case r.has(fTotalJobs):
		return r.missingErr(fID, "is missing: a Camunda 7 batch record needs id and totalJobs")
	case r.has(fID) && (r.has(fType) || r.has(fJobsCreated) || r.has(fSuspended) || r.has(fEndTime)):
		return r.missingErr(fTotalJobs, "is missing: a Camunda 7 batch record needs id and totalJobs")
	}
	var keys []string
	for i, k := range r.keys {
		if i == 20 {
			keys = append(keys, "...")
			break
		}
		keys = append(keys, strconv.Quote(string(unquote(r.body[k[0]:k[1]]))))
	}
	had := "it has no fields"
	if len(keys) > 0 {
		had = "it has " + strings.Join(keys, ", ")
	}
	return r.recordErr("record of no known kind: " + had + " (want batchOperationKey and itemKey for a batch operation item, " +
		"batchOperationKey and batchOperationType for a batch operation, id and totalJobs for a Camunda 7 batch)")
}

// parsed is a validated record: the values of the present fields (bit f of
// has) in the record of its kind.
type parsed struct {
	kind recKind
	bits uint64
	b    Batch
	o    BatchOperation
	it   BatchOperationItem
	// backing for the item's pointers: items are the bulk of large imports
	pik, rpik, emsg string
	pdate           time.Time
	lastOp          string // the last item's operation key
}

func (p *parsed) has(f int) bool { return p.bits&(1<<f) != 0 }

// parse validates rec into p; on bad input it returns an *ImportError
// without File.
func (p *parsed) parse(rec *rawRecord) error {
	p.kind = rec.detect()
	p.bits = rec.hasKey
	var e *ImportError
	switch p.kind {
	case kindNone:
		return rec.noKindErr()
	case kindItem:
		e = p.parseItem(rec)
	case kindOp:
		e = p.parseOperation(rec)
	default:
		e = p.parseBatch(rec)
	}
	if e != nil {
		return e
	}
	return nil
}

func (p *parsed) parseBatch(r *rawRecord) *ImportError {
	b := &p.b
	*b = Batch{}
	var e *ImportError
	if b.BatchID, e = r.key(fID); e != nil {
		return e
	}
	if r.has(fType) {
		if b.Type, e = r.str(fType); e != nil {
			return e
		}
		if b.Type == "" {
			return r.fieldErr(fType, "must not be empty")
		}
	}
	if r.has(fTotalJobs) {
		if b.TotalJobs, e = r.count(fTotalJobs); e != nil {
			return e
		}
	}
	for _, f := range [...]struct {
		f   int
		dst **int
	}{{fJobsCreated, &b.JobsCreated}, {fBatchJobsPerSeed, &b.BatchJobsPerSeed}, {fInvocationsPerBatchJob, &b.InvocationsPerBatchJob}} {
		if r.has(f.f) {
			if *f.dst, e = r.optCount(f.f); e != nil {
				return e
			}
		}
	}
	for _, f := range [...]struct {
		f   int
		dst **string
	}{
		{fSeedJobDefinitionID, &b.SeedJobDefinitionID}, {fMonitorJobDefinitionID, &b.MonitorJobDefinitionID},
		{fBatchJobDefinitionID, &b.BatchJobDefinitionID}, {fTenantID, &b.TenantID}, {fCreateUserID, &b.CreateUserID},
	} {
		if r.has(f.f) {
			if *f.dst, e = r.optStr(f.f); e != nil {
				return e
			}
		}
	}
	if r.has(fSuspended) {
		if b.Suspended, e = r.boolean(fSuspended); e != nil {
			return e
		}
	}
	for _, f := range [...]struct {
		f   int
		dst **time.Time
	}{{fStartTime, &b.StartTime}, {fExecutionStartTime, &b.ExecutionStartTime}, {fEndTime, &b.EndTime}, {fRemovalTime, &b.RemovalTime}} {
		if r.has(f.f) {
			if *f.dst, e = r.optTime(f.f, nil); e != nil {
				return e
			}
		}
	}
	if r.has(fRemainingJobs) || r.has(fCompletedJobs) || r.has(fFailedJobs) {
		st := &BatchStatistics{}
		for _, f := range [...]struct {
			f   int
			dst *int
		}{{fRemainingJobs, &st.RemainingJobs}, {fCompletedJobs, &st.CompletedJobs}, {fFailedJobs, &st.FailedJobs}} {
			if r.has(f.f) {
				if *f.dst, e = r.count(f.f); e != nil {
					return e
				}
			}
		}
		b.Statistics = st
	}
	return nil
}

func (p *parsed) applyBatch(b *Batch) {
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
		st := BatchStatistics{}
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

func (p *parsed) parseOperation(r *rawRecord) *ImportError {
	o := &p.o
	*o = BatchOperation{}
	var e *ImportError
	if o.BatchOperationKey, e = r.key(fBatchOperationKey); e != nil {
		return e
	}
	if o.BatchOperationType, e = enumField(r, fBatchOperationType, OperationTypes, "BatchOperationType"); e != nil {
		return e
	}
	if r.has(fState) {
		if o.State, e = enumField(r, fState, OperationStates, "BatchOperationState"); e != nil {
			return e
		}
	}
	if r.has(fStartDate) {
		if o.StartDate, e = r.optTime(fStartDate, nil); e != nil {
			return e
		}
	}
	if r.has(fEndDate) {
		if o.EndDate, e = r.optTime(fEndDate, nil); e != nil {
			return e
		}
	}
	if r.has(fActorType) && !isNull(r.val[fActorType]) {
		a, e := enumField(r, fActorType, ActorTypes, "AuditLogActorType")
		if e != nil {
			return e
		}
		o.ActorType = &a
	}
	if r.has(fActorID) {
		if o.ActorID, e = r.optStr(fActorID); e != nil {
			return e
		}
	}
	for _, f := range [...]struct {
		f   int
		dst *int
	}{{fOperationsTotalCount, &o.OperationsTotalCount}, {fOperationsFailedCount, &o.OperationsFailedCount}, {fOperationsCompletedCount, &o.OperationsCompletedCount}} {
		if r.has(f.f) {
			if *f.dst, e = r.count(f.f); e != nil {
				return e
			}
		}
	}
	if r.has(fErrors) {
		if o.Errors, e = parseOperationErrors(r); e != nil {
			return e
		}
	}
	return nil
}

func parseOperationErrors(r *rawRecord) ([]BatchOperationError, *ImportError) {
	raw := r.val[fErrors]
	out := []BatchOperationError{}
	if isNull(raw) {
		return out, nil
	}
	var list []struct {
		PartitionID json.RawMessage `json:"partitionId"`
		Type        json.RawMessage `json:"type"`
		Message     json.RawMessage `json:"message"`
	}
	if raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, r.fieldErr(fErrors, "must be an array of objects {partitionId, type, message}")
	}
	for i, x := range list {
		name := func(f string) string { return fmt.Sprintf("errors[%d].%s", i, f) }
		ferr := func(f string, v json.RawMessage, reason string) *ImportError {
			return &ImportError{Record: r.num, Line: r.fieldLine(fErrors), Field: name(f), Value: shorten(v), Reason: reason}
		}
		var e BatchOperationError
		if x.PartitionID == nil {
			return nil, ferr("partitionId", nil, "is missing")
		}
		n, reason := parseCount(x.PartitionID)
		if reason != "" {
			return nil, ferr("partitionId", x.PartitionID, reason)
		}
		e.PartitionID = n
		if x.Type == nil {
			return nil, ferr("type", nil, "is missing")
		}
		t, reason := parseEnum(x.Type, ErrorTypes, "BatchOperationErrorType")
		if reason != "" {
			return nil, ferr("type", x.Type, reason)
		}
		e.Type = t
		if x.Message == nil {
			return nil, ferr("message", nil, "is missing")
		}
		msg, ok := parseString(x.Message)
		if !ok {
			return nil, ferr("message", x.Message, "must be a string")
		}
		e.Message = msg
		out = append(out, e)
	}
	return out, nil
}

func (p *parsed) applyOperation(o *BatchOperation) {
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

// legacyItemStates are the states of items created by the old Operate
// (before 8.8), which the API shows as ACTIVE.
var legacyItemStates = map[string]ItemState{"SCHEDULED": "ACTIVE", "LOCKED": "ACTIVE", "SENT": "ACTIVE"}

func (p *parsed) parseItem(r *rawRecord) *ImportError {
	it := &p.it
	*it = BatchOperationItem{}
	var e *ImportError
	// items come in runs of one operation: reuse its key string
	if raw := r.val[fBatchOperationKey]; p.lastOp != "" && len(raw) == len(p.lastOp)+2 && raw[0] == '"' &&
		string(raw[1:len(raw)-1]) == p.lastOp {
		it.BatchOperationKey = p.lastOp
	} else if it.BatchOperationKey, e = r.key(fBatchOperationKey); e != nil {
		return e
	} else {
		p.lastOp = it.BatchOperationKey
	}
	if it.ItemKey, e = r.key(fItemKey); e != nil {
		return e
	}
	if r.has(fOperationType) {
		if it.OperationType, e = enumField(r, fOperationType, OperationTypes, "BatchOperationType"); e != nil {
			return e
		}
	}
	if r.has(fState) {
		raw := r.val[fState]
		if s, ok := legacyItemStates[string(unquote(raw))]; ok && len(raw) > 0 && raw[0] == '"' {
			it.State = s
		} else if it.State, e = enumField(r, fState, ItemStates, "BatchOperationItemState"); e != nil {
			return e
		}
	}
	for _, f := range [...]struct {
		f       int
		dst     **string
		backing *string
	}{{fProcessInstanceKey, &it.ProcessInstanceKey, &p.pik}, {fRootProcessInstanceKey, &it.RootProcessInstanceKey, &p.rpik}} {
		if !r.has(f.f) || isNull(r.val[f.f]) {
			continue
		}
		k, e := r.key(f.f)
		if e != nil {
			return e
		}
		if k == "-1" { // decision items (camunda/camunda#45988)
			continue
		}
		*f.backing = k
		*f.dst = f.backing
	}
	if r.has(fProcessedDate) {
		if it.ProcessedDate, e = r.optTime(fProcessedDate, &p.pdate); e != nil {
			return e
		}
	}
	if r.has(fErrorMessage) && !isNull(r.val[fErrorMessage]) {
		s, e := r.str(fErrorMessage)
		if e != nil {
			return e
		}
		p.emsg = s
		it.ErrorMessage = &p.emsg
	}
	return nil
}

// applyItem merges p into it. The pointers are copied into it, so it must
// be stored before p is reused.
func (p *parsed) applyItem(it *BatchOperationItem) {
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

// ---------------------------------------------------------------------------
// Values. Every raw value is syntactically valid JSON (the scanner checked).

func isNull(raw []byte) bool { return len(raw) == 4 && string(raw) == "null" }

func jsonType(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// unquote returns the contents of a JSON string without escapes, or nil.
func unquote(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' {
		return nil
	}
	return raw[1 : len(raw)-1]
}

// parseString decodes a JSON string value.
func parseString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// isIntText reports whether raw is a JSON integer (no fraction, no exponent).
func isIntText(raw []byte) bool {
	i := 0
	if i < len(raw) && raw[i] == '-' {
		i++
	}
	if i == len(raw) {
		return false
	}
	for ; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

func parseKey(raw []byte) (string, string) {
	switch {
	case isNull(raw):
		return "", "must not be null"
	case raw[0] == '"':
		s, _ := parseString(raw)
		if s == "" {
			return "", "must not be empty"
		}
		return s, ""
	case isIntText(raw):
		return string(raw), ""
	}
	return "", "must be a string or an integer, not " + jsonType(raw)
}

func parseCount(raw []byte) (int, string) {
	const reason = "must be an integer from 0 to 2147483647"
	if len(raw) == 0 || len(raw) > 10 {
		return 0, reason + ", not " + jsonType(raw)
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, reason + ", not " + jsonType(raw)
		}
		n = n*10 + int64(c-'0')
	}
	if n > math.MaxInt32 {
		return 0, reason
	}
	return int(n), ""
}

func parseEnum[E ~string](raw []byte, list []E, typ string) (E, string) {
	in := unquote(raw)
	if in == nil {
		return "", "must be a " + typ + " name, not " + jsonType(raw)
	}
	if bytes.IndexByte(in, '\\') >= 0 {
		s, _ := parseString(raw)
		in = []byte(s)
	}
	for _, v := range list {
		if string(in) == string(v) {
			return v, ""
		}
	}
	names := make([]string, len(list))
	for i, v := range list {
		names[i] = string(v)
	}
	return "", "unknown " + typ + " (want one of " + strings.Join(names, ", ") + ")"
}

func (r *rawRecord) key(f int) (string, *ImportError) {
	if !r.has(f) {
		return "", r.missingErr(f, "is missing")
	}
	k, reason := parseKey(r.val[f])
	if reason != "" {
		return "", r.fieldErr(f, reason)
	}
	return k, nil
}

func (r *rawRecord) str(f int) (string, *ImportError) {
	s, ok := parseString(r.val[f])
	if !ok {
		if isNull(r.val[f]) {
			return "", r.fieldErr(f, "must not be null")
		}
		return "", r.fieldErr(f, "must be a string, not "+jsonType(r.val[f]))
	}
	return s, nil
}

func (r *rawRecord) optStr(f int) (*string, *ImportError) {
	if isNull(r.val[f]) {
		return nil, nil
	}
	s, e := r.str(f)
	if e != nil {
		return nil, e
	}
	return &s, nil
}

func (r *rawRecord) count(f int) (int, *ImportError) {
	if isNull(r.val[f]) {
		return 0, r.fieldErr(f, "must not be null")
	}
	n, reason := parseCount(r.val[f])
	if reason != "" {
		return 0, r.fieldErr(f, reason)
	}
	return n, nil
}

func (r *rawRecord) optCount(f int) (*int, *ImportError) {
	if isNull(r.val[f]) {
		return nil, nil
	}
	n, e := r.count(f)
	if e != nil {
		return nil, e
	}
	return &n, nil
}

func (r *rawRecord) boolean(f int) (bool, *ImportError) {
	switch string(r.val[f]) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return false, r.fieldErr(f, "must not be null")
	}
	return false, r.fieldErr(f, "must be true or false, not "+jsonType(r.val[f]))
}

// optTime parses a nullable date into backing (or a new time when nil).
func (r *rawRecord) optTime(f int, backing *time.Time) (*time.Time, *ImportError) {
	raw := r.val[f]
	if isNull(raw) {
		return nil, nil
	}
	in := unquote(raw)
	if in == nil {
		return nil, r.fieldErr(f, "must be a date string, not "+jsonType(raw))
	}
	t, ok := parseDate(in)
	if !ok {
		return nil, r.fieldErr(f, "is not a date like 2025-06-04T11:13:43.123Z or 2024-05-14T09:12:03.417+0200")
	}
	if t.Before(minStoredTime) || t.After(maxStoredTime) {
		return nil, r.fieldErr(f, "is out of range (years 1678 to 2261)")
	}
	if backing == nil {
		backing = new(time.Time)
	}
	*backing = t
	return backing, nil
}

func enumField[E ~string](r *rawRecord, f int, list []E, typ string) (E, *ImportError) {
	if !r.has(f) {
		return "", r.missingErr(f, "is missing")
	}
	if isNull(r.val[f]) {
		return "", r.fieldErr(f, "must not be null")
	}
	v, reason := parseEnum(r.val[f], list, typ)
	if reason != "" {
		return "", r.fieldErr(f, reason)
	}
	return v, nil
}

// Dates are stored as Unix nanoseconds.
var (
	minStoredTime = time.Unix(0, math.MinInt64).UTC()
	maxStoredTime = time.Unix(0, math.MaxInt64).UTC()
)

// parseDate parses yyyy-MM-ddTHH:mm:ss, 0 to 9 fraction digits, and Z,
// ±HH:MM or ±HHMM (Camunda 7), into UTC.
func parseDate(b []byte) (time.Time, bool) {
	num := func(s []byte) int {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	if day > 28 && day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		digits := i - j
		if digits == 0 || digits > 9 {
			return time.Time{}, false
		}
		nsec = num(b[j:i])
		for k := digits; k < 9; k++ {
			nsec *= 10
		}
	}
	zone := b[i:]
	var off int
	switch {
	case len(zone) == 1 && (zone[0] == 'Z' || zone[0] == 'z'):
	case (len(zone) == 6 && zone[3] == ':') || len(zone) == 5:
		if zone[0] != '+' && zone[0] != '-' {
			return time.Time{}, false
		}
		oh := num(zone[1:3])
		om := num(zone[len(zone)-2:])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		off = oh*3600 + om*60
		if zone[0] == '-' {
			off = -off
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), true
}

// shorten returns raw for a message, cut to about 80 characters.
func shorten(raw []byte) string {
	const max = 80
	if len(raw) <= max {
		return string(raw)
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return string(raw[:cut]) + "…"
}

// ---------------------------------------------------------------------------
// The streaming JSON scanner.

// maxRecordBytes bounds one record (and so the read buffer).
const maxRecordBytes = 64 << 20

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

var errRecordTooLarge = fmt.Errorf("a record is larger than %d MiB", maxRecordBytes>>20)

type scanState uint8

const (
	stTop      scanState = iota // between top-level values
	stArray                     // in a top-level array
	stItems                     // in the items array of a search response
	stEnvelope                  // in a search response, after a member
)

// jsonScanner reads records from a stream of top-level JSON values: record
// objects (one, or NDJSON, or concatenated), arrays of records, and search
// responses {"items": [records], "page": {...}} (told by their first key).
type jsonScanner struct {
	r         io.Reader
	buf       []byte
	pos       int   // next byte in buf
	mark      int   // start of the current record in buf; -1 when none
	base      int64 // file offset of buf[0]
	line      int64 // line of buf[pos], 1-based
	lineStart int64 // file offset where that line starts
	rerr      error // sticky read error (io.EOF at the end)
	state     scanState
	first     bool  // no element yet in the current array
	records   int64 // records started so far
	inRec     bool  // reading record number records
	rec       rawRecord
}

func newJSONScanner(r io.Reader) *jsonScanner { return newJSONScannerSize(r, 256<<10) }

func newJSONScannerSize(r io.Reader, size int) *jsonScanner {
	s := &jsonScanner{r: r, buf: make([]byte, 0, size), mark: -1, line: 1}
	// A UTF-8 byte order mark (Windows tools write one) is skipped.
	for len(s.buf) < 3 && s.fill() {
	}
	if bytes.HasPrefix(s.buf, []byte("\xEF\xBB\xBF")) {
		s.pos = 3
		s.lineStart = 3
	}
	return s
}

// offset is the file offset of the next byte to read.
func (s *jsonScanner) offset() int64 { return s.base + int64(s.pos) }

// fill reads more input, keeping the current record; false at the end of
// input or on a read error (then in s.rerr).
func (s *jsonScanner) fill() bool {
	if s.rerr != nil {
		return false
	}
	keep := s.pos
	if s.mark >= 0 && s.mark < keep {
		keep = s.mark
	}
	if keep > 0 {
		n := copy(s.buf, s.buf[keep:])
		s.buf = s.buf[:n]
		s.pos -= keep
		if s.mark >= 0 {
			s.mark -= keep
		}
		s.base += int64(keep)
	}
	if len(s.buf) == cap(s.buf) {
		if cap(s.buf) >= maxRecordBytes {
			s.rerr = errRecordTooLarge
			return false
		}
		nb := make([]byte, len(s.buf), 2*cap(s.buf))
		copy(nb, s.buf)
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// need makes n bytes from pos available; false when the input ends first.
func (s *jsonScanner) need(n int) bool {
	for len(s.buf)-s.pos < n {
		if !s.fill() {
			return false
		}
	}
	return true
}

func (s *jsonScanner) peek() (byte, bool) {
	if s.pos < len(s.buf) || s.fill() {
		return s.buf[s.pos], true
	}
	return 0, false
}

// skipWS skips whitespace, counting lines; false at the end of input.
func (s *jsonScanner) skipWS() bool {
	for {
		for s.pos < len(s.buf) {
			switch s.buf[s.pos] {
			case ' ', '\t', '\r':
			case '\n':
				s.line++
				s.lineStart = s.base + int64(s.pos) + 1
			default:
				return true
			}
			s.pos++
		}
		if !s.fill() {
			return false
		}
	}
}

// syntaxErr reports malformed JSON at the current position (or a read
// error, which is not bad input).
func (s *jsonScanner) syntaxErr(format string, args ...any) error {
	rec := s.records
	if !s.inRec {
		rec++
	}
	if s.rerr == errRecordTooLarge {
		return &ImportError{Record: rec, Line: s.line, Reason: errRecordTooLarge.Error()}
	}
	if s.rerr != nil && s.rerr != io.EOF {
		return s.rerr
	}
	col := s.offset() - s.lineStart + 1
	return &ImportError{Record: rec, Line: s.line,
		Reason: fmt.Sprintf("malformed JSON at column %d: %s", col, fmt.Sprintf(format, args...))}
}

// eofErr reports that the input ended inside a value.
func (s *jsonScanner) eofErr() error {
	return s.syntaxErr("unexpected end of input")
}

func (s *jsonScanner) charErr(c byte, context string) error {
	return s.syntaxErr("invalid character %s %s", quoteChar(c), context)
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	if c >= utf8.RuneSelf {
		q = fmt.Sprintf(`"\x%02x"`, c)
	}
	return "'" + q[1:len(q)-1] + "'"
}

// expect consumes byte c after optional whitespace.
func (s *jsonScanner) expect(c byte, context string) error {
	if !s.skipWS() {
		return s.eofErr()
	}
	if got := s.buf[s.pos]; got != c {
		return s.charErr(got, context)
	}
	s.pos++
	return nil
}

// strSafe marks the bytes that continue a string without special handling.
var strSafe = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return
}()

// scanString consumes a string at pos (which is '"'); it reports whether
// the string has escapes.
func (s *jsonScanner) scanString() (bool, error) {
	s.pos++
	esc := false
	for {
		for s.pos < len(s.buf) {
			c := s.buf[s.pos]
			if strSafe[c] {
				s.pos++
				continue
			}
			switch c {
			case '"':
				s.pos++
				return esc, nil
			case '\\':
				esc = true
				if !s.need(2) {
					return esc, s.eofErr()
				}
				switch e := s.buf[s.pos+1]; e {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					s.pos += 2
				case 'u':
					if !s.need(6) {
						return esc, s.eofErr()
					}
					for k := 2; k < 6; k++ {
						h := s.buf[s.pos+k]
						if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
							s.pos += k
							return esc, s.charErr(h, "in \\u hexadecimal character escape")
						}
					}
					s.pos += 6
				default:
					s.pos++
					return esc, s.charErr(e, "in string escape code")
				}
			default:
				return esc, s.charErr(c, "in string literal")
			}
		}
		if !s.fill() {
			return esc, s.eofErr()
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (s *jsonScanner) digits() {
	for {
		for s.pos < len(s.buf) {
			if !isDigit(s.buf[s.pos]) {
				return
			}
			s.pos++
		}
		if !s.fill() {
			return
		}
	}
}

// scanNumber consumes a number at pos.
func (s *jsonScanner) scanNumber() error {
	if c, _ := s.peek(); c == '-' {
		s.pos++
	}
	c, ok := s.peek()
	switch {
	case !ok:
		return s.eofErr()
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.pos++
		s.digits()
	default:
		return s.charErr(c, "in numeric literal")
	}
	if c, ok := s.peek(); ok && c == '.' {
		s.pos++
		c, ok := s.peek()
		if !ok {
			return s.eofErr()
		}
		if !isDigit(c) {
			return s.charErr(c, "after decimal point in numeric literal")
		}
		s.digits()
	}
	if c, ok := s.peek(); ok && (c == 'e' || c == 'E') {
		s.pos++
		c, ok := s.peek()
		if ok && (c == '+' || c == '-') {
			s.pos++
			c, ok = s.peek()
		}
		if !ok {
			return s.eofErr()
		}
		if !isDigit(c) {
			return s.charErr(c, "in exponent of numeric literal")
		}
		s.digits()
	}
	return nil
}

func (s *jsonScanner) scanLiteral(lit string) error {
	for i := 0; i < len(lit); i++ {
		c, ok := s.peek()
		if !ok {
			return s.eofErr()
		}
		if c != lit[i] {
			return s.charErr(c, "in literal "+lit+" (expecting "+quoteChar(lit[i])+")")
		}
		s.pos++
	}
	return nil
}

// scanValue consumes one value after optional whitespace.
func (s *jsonScanner) scanValue(depth int) error {
	if !s.skipWS() {
		return s.eofErr()
	}
	switch c := s.buf[s.pos]; {
	case c == '"':
		_, err := s.scanString()
		return err
	case c == '{':
		return s.scanObject(depth + 1)
	case c == '[':
		return s.scanArray(depth + 1)
	case c == '-' || isDigit(c):
		return s.scanNumber()
	case c == 't':
		return s.scanLiteral("true")
	case c == 'f':
		return s.scanLiteral("false")
	case c == 'n':
		return s.scanLiteral("null")
	default:
		return s.charErr(c, "looking for beginning of value")
	}
}

func (s *jsonScanner) scanObject(depth int) error {
	if depth > maxDepth {
		return s.syntaxErr("exceeded max depth")
	}
	s.pos++ // '{'
	if !s.skipWS() {
		return s.eofErr()
	}
	if s.buf[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		if !s.skipWS() {
			return s.eofErr()
		}
		if c := s.buf[s.pos]; c != '"' {
			return s.charErr(c, "looking for beginning of object key string")
		}
		if _, err := s.scanString(); err != nil {
			return err
		}
		if err := s.expect(':', "after object key"); err != nil {
			return err
		}
		if err := s.scanValue(depth); err != nil {
			return err
		}
		if !s.skipWS() {
			return s.eofErr()
		}
		switch c := s.buf[s.pos]; c {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.charErr(c, "after object key:value pair")
		}
	}
}

func (s *jsonScanner) scanArray(depth int) error {
	if depth > maxDepth {
		return s.syntaxErr("exceeded max depth")
	}
	s.pos++ // '['
	if !s.skipWS() {
		return s.eofErr()
	}
	if s.buf[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		if err := s.scanValue(depth); err != nil {
			return err
		}
		if !s.skipWS() {
			return s.eofErr()
		}
		switch c := s.buf[s.pos]; c {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.charErr(c, "after array element")
		}
	}
}

// key reads an object key string (after whitespace) and returns its span
// relative to s.mark, which it sets for the duration when unset.
func (s *jsonScanner) key() (start, end int, esc bool, err error) {
	if !s.skipWS() {
		return 0, 0, false, s.eofErr()
	}
	if c := s.buf[s.pos]; c != '"' {
		return 0, 0, false, s.charErr(c, "looking for beginning of object key string")
	}
	temp := s.mark < 0
	if temp {
		s.mark = s.pos
	}
	start = s.pos - s.mark
	esc, err = s.scanString()
	end = s.pos - s.mark
	if temp {
		s.mark = -1
	}
	return start, end, esc, err
}

// keyName returns the name of the key at span [start, end) of the buffer
// from base (a mark), unescaped; valid until the next read.
func (s *jsonScanner) keyName(base, start, end int, esc bool) []byte {
	raw := s.buf[base+start : base+end]
	if esc {
		return []byte(mustUnquote(raw))
	}
	return raw[1 : len(raw)-1]
}

// next returns the next record, io.EOF after the last, or an error (an
// *ImportError for bad input). The record is valid until the next call.
func (s *jsonScanner) next() (*rawRecord, error) {
	s.mark = -1
	s.inRec = false
	for {
		switch s.state {
		case stTop:
			if !s.skipWS() {
				if s.rerr != nil && s.rerr != io.EOF {
					return nil, s.rerr
				}
				return nil, io.EOF
			}
			switch c := s.buf[s.pos]; c {
			case '[':
				s.pos++
				s.state, s.first = stArray, true
				continue
			case '{':
				rec, envelope, err := s.record(true)
				if err != nil || !envelope {
					return rec, err
				}
				continue // a search response: now in stEnvelope or stItems
			default:
				return nil, s.nonObject("the file must hold JSON objects, arrays of them, or {\"items\": [...]} search responses")
			}
		case stArray, stItems:
			if !s.skipWS() {
				return nil, s.eofErr()
			}
			c := s.buf[s.pos]
			if c == ']' {
				s.pos++
				if s.state == stArray {
					s.state = stTop
				} else {
					s.state = stEnvelope
				}
				continue
			}
			if !s.first {
				if c != ',' {
					return nil, s.charErr(c, "after array element")
				}
				s.pos++
				if !s.skipWS() {
					return nil, s.eofErr()
				}
				c = s.buf[s.pos]
			}
			s.first = false
			if c != '{' {
				return nil, s.nonObject("a record must be a JSON object")
			}
			rec, _, err := s.record(false)
			return rec, err
		case stEnvelope:
			if !s.skipWS() {
				return nil, s.eofErr()
			}
			switch c := s.buf[s.pos]; c {
			case '}':
				s.pos++
				s.state = stTop
				continue
			case ',':
				s.pos++
				start, end, esc, err := s.key()
				if err != nil {
					return nil, err
				}
				// the key was read with a temporary mark at its start
				base := s.pos - end
				name := s.keyName(base, start, end, esc)
				if err := s.envelopeMember(string(name) == "items"); err != nil {
					return nil, err
				}
			default:
				return nil, s.charErr(c, "after object key:value pair")
			}
		}
	}
}

func mustUnquote(raw []byte) string {
	var str string
	_ = json.Unmarshal(raw, &str)
	return str
}

// nonObject reports a value that is not a record; it counts as a record so
// that the message points at it.
func (s *jsonScanner) nonObject(reason string) error {
	s.records++
	s.inRec = true
	s.mark = s.pos
	line := s.line
	if err := s.scanValue(0); err != nil {
		return err
	}
	return &ImportError{Record: s.records, Line: line, Value: shorten(s.buf[s.mark:s.pos]),
		Reason: reason + ", not " + jsonType(s.buf[s.mark:s.pos])}
}

// envelopeMember reads the value of a search response's member after its
// key: the items array is entered, others are skipped.
func (s *jsonScanner) envelopeMember(items bool) error {
	if err := s.expect(':', "after object key"); err != nil {
		return err
	}
	s.state = stEnvelope
	if !items {
		return s.scanValue(1)
	}
	if !s.skipWS() {
		return s.eofErr()
	}
	switch s.buf[s.pos] {
	case '[':
		s.pos++
		s.state, s.first = stItems, true
		return nil
	case 'n':
		return s.scanLiteral("null")
	}
	return s.nonObject(`"items" of a search response must be an array of records`)
}

// record reads the object at pos as a record. At the top level (top), an
// object whose first key is "items" or "page" is a search response instead:
// record then enters it and reports envelope.
func (s *jsonScanner) record(top bool) (*rawRecord, bool, error) {
	r := &s.rec
	s.mark = s.pos
	r.line = s.line
	r.hasKey = 0
	r.keys = r.keys[:0]
	s.records++
	s.inRec = true
	s.pos++ // '{'
	if !s.skipWS() {
		return nil, false, s.eofErr()
	}
	if s.buf[s.pos] != '}' {
		for i := 0; ; i++ {
			s.skipWS()
			line := s.line
			start, end, esc, err := s.key()
			if err != nil {
				return nil, false, err
			}
			name := s.keyName(s.mark, start, end, esc)
			if i == 0 && top && (string(name) == "items" || string(name) == "page") {
				s.records--
				s.inRec = false
				s.mark = -1
				return nil, true, s.envelopeMember(string(name) == "items")
			}
			f, known := fieldIndex[string(name)]
			r.keys = append(r.keys, [2]int{start, end})
			if err := s.expect(':', "after object key"); err != nil {
				return nil, false, err
			}
			if !s.skipWS() {
				return nil, false, s.eofErr()
			}
			vstart := s.pos - s.mark
			if err := s.scanValue(1); err != nil {
				return nil, false, err
			}
			if known {
				r.hasKey |= 1 << f
				r.lines[f] = line
				r.spans[f] = [2]int{vstart, s.pos - s.mark}
			}
			if !s.skipWS() {
				return nil, false, s.eofErr()
			}
			c := s.buf[s.pos]
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, false, s.charErr(c, "after object key:value pair")
			}
			s.pos++
		}
	}
	s.pos++ // '}'
	s.inRec = false
	r.num = s.records
	r.body = s.buf[s.mark:s.pos]
	for f := range r.val {
		if r.hasKey&(1<<f) != 0 {
			r.val[f] = r.body[r.spans[f][0]:r.spans[f][1]]
		} else {
			r.val[f] = nil
		}
	}
	return r, false, nil
}
