package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// statusWriter records the status code and body size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps streaming responses (multipart, SSE) working through the wrapper.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// logRequests logs every request: method, path, status, duration, response
// size and the GraphQL operation name when it is cheap to know. /healthz is
// logged at debug level.
func logRequests(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" {
			level = slog.LevelDebug
		}
		if !log.Enabled(r.Context(), level) {
			// Finding the operation name scans the body: 9% of the CPU of
			// small queries under load, for a line nobody reads.
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		op := operationName(r)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", sw.bytes),
		}
		if op != "" {
			attrs = append(attrs, slog.String("operation", op))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// peekLimit bounds how much of a POST body is read to find operationName.
const peekLimit = 64 << 10

// operationName returns the GraphQL operationName of a request to one of
// the endpoints: the GET parameter, or for a JSON POST the top-level "operationName" found in
// the first peekLimit bytes of the body. The body is restored for the
// handler. Empty when unknown.
func operationName(r *http.Request) string {
	if !slices.Contains(endpoints, r.URL.Path) {
		return ""
	}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		if name := q.Get("operationName"); name != "" {
			return name
		}
		return leadingOperationName(q.Get("query"))
	}
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody ||
		!strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
		return ""
	}
	size := peekLimit
	if r.ContentLength >= 0 && r.ContentLength < peekLimit {
		size = int(r.ContentLength) + 1 // + 1 to see the EOF
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(r.Body, buf)
	buf = buf[:n]
	body := r.Body
	var rest io.Reader
	switch {
	case err == nil:
		rest = body
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		rest = eofReader{}
	default: // replay the read error after the buffered bytes
		rest = &errReader{err: err}
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), rest), body}
	return scanOperationName(buf)
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// scanOperationName finds the top-level "operationName" string of a JSON
// object, tolerating a body cut short after it; without one, the name of the
// document's leading operation.
func scanOperationName(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	var query string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		switch key, _ := t.(string); key {
		case "operationName":
			var name *string
			if err := dec.Decode(&name); err != nil {
				return ""
			}
			if name != nil && *name != "" {
				return *name
			}
			continue
		case "query":
			if err := dec.Decode(&query); err != nil {
				return ""
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	return leadingOperationName(query)
}

// leadingOperation matches a document that starts (after comments) with a
// named operation. When a request names no operation, the document may
// hold only one, so that is the operation that runs.
var leadingOperation = regexp.MustCompile(`^(?:[\s,\x{FEFF}]|#[^\n\r]*)*(?:query|mutation|subscription)[\s,]+([_A-Za-z][_0-9A-Za-z]*)`)

func leadingOperationName(query string) string {
	if m := leadingOperation.FindStringSubmatch(query); m != nil {
		return m[1]
	}
	return ""
}
