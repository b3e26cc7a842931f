package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/batchql/batchql/auth"
	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/tracing"
)

// DefaultMaxImportBody is --max-import-body's default: 1 GiB.
const DefaultMaxImportBody = 1 << 30

// ImportOptions enable POST /import (contract §9). With neither Token nor
// Guard set, NewRouter serves no /import (404).
type ImportOptions struct {
	// Token is --import-token: a request must send Authorization: Bearer
	// Token (compared in constant time), else 401.
	Token string
	// Guard, when set, authenticates instead of the Token check: it wraps
	// the import handler and answers 401/403 itself (for OIDC with the
	// import scope, e.g. auth.Guard{Verifier: v, Scope: importScope,
	// Token: token}.Wrap, which accepts the token as well).
	Guard func(http.Handler) http.Handler
	// MaxBody bounds the request body (--max-import-body); a larger one
	// gets 413. 0 means DefaultMaxImportBody.
	MaxBody int64
	// BatchSize is the importer's records per write transaction (0: its
	// default).
	BatchSize int
	// Apply, when set, writes the import's patches instead of the store
	// (importer.Options.Apply): with --nats, publish them to the stream and
	// wait for the local apply.
	Apply func(ctx context.Context, patches []*importer.Patch) (importer.Counts, error)
	// Timeout replaces the server's read and write timeouts for an import
	// request, which reads a large body and then imports it; 0 means 30
	// minutes.
	Timeout time.Duration
	// Observe, when set, is called after every import that got past
	// authentication: with its stats (nil on failure) and its error (nil on
	// success; an *importer.Error for bad input, whose Record is the bad
	// record). Metrics count records per kind and outcome here.
	Observe func(st *importer.Stats, err error)
}

func (o ImportOptions) enabled() bool { return o.Token != "" || o.Guard != nil }

// importHandler serves POST /import. Imports take turns: one at a time
// checks and writes (each spools its body first), so concurrent uploads
// do not multiply the write load on the queries' machine.
type importHandler struct {
	store *storage.Store
	opts  ImportOptions
	log   *slog.Logger
	turn  chan struct{}
}

// ImportResult is POST /import's 200 answer.
type ImportResult struct {
	Records  int64                           `json:"records"`
	Kinds    map[string]*importer.KindCounts `json:"kinds"`
	Warnings []string                        `json:"warnings"`
	// DatabaseBytes is the size of the database file afterwards.
	DatabaseBytes int64 `json:"databaseBytes"`
}

// ImportError is POST /import's error answer: Error is the message; for
// bad input (400) the other fields name where, as importer.Error does.
type ImportError struct {
	Error  string `json:"error"`
	Record int64  `json:"record,omitempty"`
	Line   int64  `json:"line,omitempty"`
	Field  string `json:"field,omitempty"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func newImportHandler(store *storage.Store, opts ImportOptions, log *slog.Logger) http.Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxImportBody
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Minute
	}
	h := &importHandler{store: store, opts: opts, log: log, turn: make(chan struct{}, 1)}
	if opts.Guard != nil {
		return opts.Guard(h)
	}
	return tokenGuard(opts.Token, h)
}

// tokenGuard lets through requests that send Authorization: Bearer token,
// checked as auth.Guard checks a static token; the 401 answers are
// /import's (ImportError, naming --import-token).
func tokenGuard(token string, next http.Handler) http.Handler {
	g := auth.Guard{Token: token}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := g.Authenticate(r.Context(), r.Header.Get("Authorization"))
		switch {
		case errors.Is(err, auth.ErrNoToken):
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="missing token"`)
			writeImportError(w, http.StatusUnauthorized, ImportError{Error: "missing token: send Authorization: Bearer <the server's --import-token>"})
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="wrong token"`)
			writeImportError(w, http.StatusUnauthorized, ImportError{Error: "wrong token: it is not the server's --import-token"})
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// importTypes are the accepted Content-Types; the importer tells the
// format from the content, so none (curl -T) is accepted too.
var importTypes = []string{"application/json", "application/x-ndjson", "application/ndjson", "application/jsonl"}

func (h *importHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(importTypes, mt) {
			writeImportError(w, http.StatusUnsupportedMediaType, ImportError{Error: fmt.Sprintf(
				"Content-Type %q: send application/json or application/x-ndjson (curl: -H 'Content-Type: application/json' --data-binary @FILE)", ct)})
			return
		}
	}
	if r.ContentLength > h.opts.MaxBody {
		h.tooLarge(w)
		return
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(h.opts.Timeout)
	_ = rc.SetReadDeadline(deadline) // not every ResponseWriter has deadlines (httptest)
	_ = rc.SetWriteDeadline(deadline)

	ctx := r.Context()
	f, err := h.spool(ctx, http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if f != nil {
		defer os.Remove(f.Name())
		defer f.Close()
	}
	var mbe *http.MaxBytesError
	var se *spoolError
	switch {
	case errors.As(err, &mbe):
		h.tooLarge(w)
		return
	case errors.As(err, &se):
		h.log.Error("import: spooling the body", "err", se.err)
		writeImportError(w, http.StatusInternalServerError, ImportError{Error: "internal error: the server could not store the body (see its log)"})
		return
	case err != nil:
		h.log.Warn("import: reading the body", "err", err)
		writeImportError(w, http.StatusBadRequest, ImportError{Error: "reading the body: " + err.Error()})
		return
	}

	select {
	case h.turn <- struct{}{}:
	case <-ctx.Done():
		return
	}
	ictx, span := otel.Tracer(tracing.ScopeName).Start(ctx, "import") // contract §12
	st, err := importer.Open(ictx, h.store, "body", f, importer.Options{BatchSize: h.opts.BatchSize, Apply: h.opts.Apply})
	if st != nil {
		span.SetAttributes(attribute.Int64("batchql.import.records", st.Records))
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "import failed")
	}
	span.End()
	<-h.turn
	if h.opts.Observe != nil {
		h.opts.Observe(st, err)
	}
	var ie *importer.Error
	switch {
	case errors.As(err, &ie):
		writeImportError(w, http.StatusBadRequest, ImportError{Error: ie.Detail(), Record: ie.Record, Line: ie.Line,
			Field: ie.Field, Value: ie.Value, Reason: ie.Reason})
		return
	case err != nil && ctx.Err() != nil:
		h.log.Warn("import: the client went away; importing the body again completes it", "err", err)
		return
	case err != nil:
		h.log.Error("import", "err", err)
		writeImportError(w, http.StatusInternalServerError, ImportError{Error: "internal error: the import stopped (see the server's log); importing the body again completes it"})
		return
	}
	res := ImportResult{Records: st.Records, Kinds: st.Kinds, Warnings: st.Warnings}
	if res.Warnings == nil {
		res.Warnings = []string{}
	}
	if size, err := h.store.Size(); err == nil {
		res.DatabaseBytes = size
	}
	attrs := []any{"records", st.Records, "elapsed", st.Elapsed.Round(time.Millisecond), "warnings", len(st.Warnings)}
	for _, k := range []string{importer.KindBatch, importer.KindBatchStats, importer.KindHistoricBatch, importer.KindBatchOperation, importer.KindItem} {
		if c := st.Kinds[k]; c != nil && c.New+c.Updated+c.Unchanged > 0 {
			attrs = append(attrs, slog.Group(strings.ReplaceAll(k, " ", "_"), "new", c.New, "updated", c.Updated, "unchanged", c.Unchanged))
		}
	}
	h.log.Info("import", attrs...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(res)
}

// spool copies the body to a temp file (the importer reads its input
// twice), bounded by MaxBody through the MaxBytesReader.
func (h *importHandler) spool(ctx context.Context, body io.Reader) (*os.File, error) {
	f, err := os.CreateTemp("", "batchql-import-*.json")
	if err != nil {
		return nil, &spoolError{err}
	}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return f, err
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return f, &spoolError{err}
			}
		}
		if rerr == io.EOF {
			return f, nil
		}
		if rerr != nil {
			return f, rerr
		}
	}
}

// spoolError is the server's failure to store a body (disk full), not the
// client's; its text names a server path, so it is only logged.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return "spool: " + e.err.Error() }

func (h *importHandler) tooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeImportError(w, http.StatusRequestEntityTooLarge, ImportError{Error: fmt.Sprintf(
		"the body is larger than the server's --max-import-body (%d bytes): split the file (NDJSON splits at any line) or raise the limit", h.opts.MaxBody)})
}

func writeImportError(w http.ResponseWriter, status int, e ImportError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(e)
}
