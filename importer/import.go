package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/batchql/batchql/storage"
)

// Options tune File and Reader.
type Options struct {
	// BatchSize is the number of records per write transaction; 0 means 10000.
	BatchSize int
	// Progress, when set, is called at most about 10 times a second and at
	// the end of each phase.
	Progress func(Progress)
	// Apply, when set, takes the write pass's patches instead of the
	// store: BatchSize records at a time, in file order; it returns what
	// applying them did. With --nats, POST /import publishes them to the
	// stream and waits for the local apply (contract §13). The check pass
	// still reads the store. An error stops the import; the patches of
	// earlier calls stay applied, as earlier transactions do.
	Apply func(ctx context.Context, patches []*Patch) (Counts, error)
}

// Progress reports how far a phase has got.
type Progress struct {
	Phase      string // "check" or "write"
	Records    int64  // records done in this phase
	Bytes      int64  // bytes of the file consumed so far
	TotalBytes int64  // file size (0 when unknown)
}

// KindCounts counts the records of one kind by the outcome of their upsert.
// New records were not stored (nor earlier in the file); Updated ones were
// and changed a value; Unchanged ones were stored with the same values and
// were not rewritten: importing a file twice reports every record as
// unchanged the second time.
type KindCounts struct {
	New       int64 `json:"new"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
}

func (c *KindCounts) add(o storage.Outcome) {
	switch o {
	case storage.New:
		c.New++
	case storage.Updated:
		c.Updated++
	default:
		c.Unchanged++
	}
}

// plus adds n's counts to c.
func (c *KindCounts) plus(n KindCounts) {
	c.New += n.New
	c.Updated += n.Updated
	c.Unchanged += n.Unchanged
}

// Counts counts applied patches by kind (Patch.Kind) and outcome.
type Counts map[string]KindCounts

// Add counts one patch's outcome.
func (c Counts) Add(p *Patch, o storage.Outcome) {
	k := c[p.Kind()]
	k.add(o)
	c[p.Kind()] = k
}

// Merge adds o's counts to c.
func (c Counts) Merge(o Counts) {
	for kind, n := range o {
		k := c[kind]
		k.plus(n)
		c[kind] = k
	}
}

// Record kinds, the keys of Stats.Kinds.
const (
	KindBatch          = "batch"
	KindBatchStats     = "batch statistics"
	KindHistoricBatch  = "historic batch"
	KindBatchOperation = "batch operation"
	KindItem           = "batch operation item"
)

// Stats is what an import did.
type Stats struct {
	Records int64
	// Kinds always holds all five kinds (KindBatch, ...), zero counts
	// included. A Camunda 7 record counts under the kind it was recognised
	// as, although all three merge into one storage.Batch.
	Kinds   map[string]*KindCounts
	Elapsed time.Duration
	// Warnings are about input that was imported but may not be what was
	// meant: a search response that holds only part of its result (its
	// page.totalItems exceeds its items) names the page.endCursor to fetch
	// next.
	Warnings []string
}

// Error is bad input. Field is the JSON field ("" for problems of the
// whole record or of the JSON syntax), nested ones written like
// errors[0].type. Value is the JSON text of the offending value, so a string
// keeps its quotes ("DONE") and a missing field has none (""), shortened to
// about 80 characters. Line is the line of the field (of the record for
// whole-record problems, of the error for malformed JSON), 0 when unknown.
type Error struct {
	File   string
	Record int64 // 1-based position of the record in the file
	Line   int64
	Field  string
	Value  string
	Reason string
}

func (e *Error) Error() string {
	if e.Record > 0 {
		return "import " + e.File + " " + e.Detail()
	}
	return "import " + e.File + ": " + e.Detail()
}

// Detail is the message without "import FILE": "record 3 (line 3): field
// "state": value "DONE": ...", or the reason alone for problems of the whole
// input. POST /import answers it as its error.
func (e *Error) Detail() string {
	var b strings.Builder
	if e.Record > 0 {
		b.WriteString("record ")
		b.WriteString(strconv.FormatInt(e.Record, 10))
	}
	if e.Line > 0 {
		b.WriteString(" (line ")
		b.WriteString(strconv.FormatInt(e.Line, 10))
		b.WriteString(")")
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
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

// File imports one file (one record, an array of records, a search
// response {items, page}, or NDJSON; the format is told from the content)
// into s. On bad input it returns an *Error and writes nothing.
func File(ctx context.Context, s *storage.Store, path string, opts Options) (*Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, &Error{File: path, Reason: fmt.Sprintf("is a directory: pass the files in it (e.g. %s)",
			strings.TrimSuffix(path, string(os.PathSeparator))+string(os.PathSeparator)+"*.json")}
	}
	return importFile(ctx, s, path, f, opts)
}

// Reader spools r (e.g. standard input, name "-") to a temp file, then
// imports it as File does; name is used in messages.
func Reader(ctx context.Context, s *storage.Store, name string, r io.Reader, opts Options) (*Stats, error) {
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
	return importFile(ctx, s, name, tmp, opts)
}

// Open imports f, an open file (e.g. a spooled request body), as File
// does; name is used in messages. f is read from offset 0 and left open.
func Open(ctx context.Context, s *storage.Store, name string, f *os.File, opts Options) (*Stats, error) {
	return importFile(ctx, s, name, f, opts)
}

const defaultBatchSize = 10000

// run is one import of one file.
type run struct {
	s     *storage.Store
	ctx   context.Context
	name  string
	f     *os.File
	size  int64
	batch int
	prog  func(Progress)
	apply func(context.Context, []*Patch) (Counts, error) // Options.Apply
	phase string                                          // of the last progress report
	last  time.Time                                       // when it was made
	stats *Stats
	// opTypes maps operation keys to their type for items that lack
	// operationType (Camunda 8.8): operations seen so far in the file and
	// operations looked up in the database.
	opTypes map[string]storage.OperationType
}

func importFile(ctx context.Context, s *storage.Store, name string, f *os.File, opts Options) (*Stats, error) {
	start := time.Now()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	im := &run{
		s: s, ctx: ctx, name: name, f: f, size: fi.Size(),
		batch: opts.BatchSize, prog: opts.Progress, apply: opts.Apply,
		stats: &Stats{Kinds: map[string]*KindCounts{}},
	}
	if im.batch <= 0 {
		im.batch = defaultBatchSize
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
func (im *run) reader() *jsonScanner {
	return newJSONScanner(io.NewSectionReader(im.f, 0, im.size))
}

// fail completes an error of a pass: bad input becomes an *Error naming
// the file, anything else is wrapped with file and record.
func (im *run) fail(sc *jsonScanner, err error) error {
	var ie *Error
	if errors.As(err, &ie) {
		ie.File = im.name
		return ie
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("import %s: %w", im.name, err)
	}
	return fmt.Errorf("import %s record %d: %w", im.name, sc.records, err)
}

func (im *run) progress(phase string, n int64, sc *jsonScanner, final bool) {
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
	im.prog(Progress{Phase: phase, Records: n, Bytes: sc.offset(), TotalBytes: im.size})
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

func naturalKey(p *Patch) pendingKey {
	switch p.kind {
	case kindOp:
		return pendingKey{kindOp, p.o.BatchOperationKey}
	case kindItem:
		return pendingKey{kindItem, p.it.BatchOperationKey + "\x00" + p.it.ItemKey}
	}
	return pendingKey{kindBatch, p.b.BatchID}
}
