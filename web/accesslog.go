package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/batchql/batchql/auth"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/metrics"
)

// statusWriter records the status code and body size of a response, and
// the start of an error response's body (see keepHead).
type statusWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	keepHead bool   // keep the first headLimit bytes of an error response
	head     []byte // the start of an error response's body
}

// headLimit bounds the error response body kept to find its code.
const headLimit = 4 << 10

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
	if w.keepHead && w.status >= 400 && len(w.head) < headLimit {
		w.head = append(w.head, p[:min(len(p), headLimit-len(w.head))]...)
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

// observe logs every request (method, path, status, duration, response
// size, and for the GraphQL endpoints the operation name) and records the
// GraphQL requests in m (nil: none). /healthz and /metrics, which monitors
// poll, are logged at debug level.
//
// The operation's type, name and code come from the GraphQL handler
// (graph.Operation, filled in by its observer extension from gqlgen's
// operation context), so they are known for POST, GET and persisted
// queries alike without reading the body twice. A request the handler
// refused before gqlgen saw it (a body too large, a busy server, a denied
// token) is counted with type unknown and the code of its error body, or
// one that its status implies.
func observe(next http.Handler, log *slog.Logger, m *metrics.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" { // polled: debug
			level = slog.LevelDebug
		}
		logged := log.Enabled(r.Context(), level)
		api := slices.Contains(endpoints, r.URL.Path)
		if !logged && (m == nil || !api) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		st := &requestState{sw: statusWriter{ResponseWriter: w, keepHead: api && m != nil}} // one allocation
		sw := &st.sw
		var op *graph.Operation
		if api {
			op = &st.op
			r = r.WithContext(graph.WithOperation(r.Context(), op))
		}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		if api && m != nil {
			record(m, op, sw, elapsed)
		}
		if !logged {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", elapsed),
			slog.Int64("bytes", sw.bytes),
		}
		if op != nil && op.Name != "" {
			attrs = append(attrs, slog.String("operation", op.Name))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// requestState is what observe keeps of a request.
type requestState struct {
	sw statusWriter
	op graph.Operation
}

// record counts one request to a GraphQL endpoint.
func record(m *metrics.Metrics, op *graph.Operation, sw *statusWriter, d time.Duration) {
	if op.Answered {
		name := op.Name
		if op.Type == "" {
			name = "" // only names from a validated document get a series
		}
		m.GraphQLRequest(op.Type, name, op.Code, d)
		return
	}
	if sw.status < 400 {
		return // not a GraphQL request (OPTIONS)
	}
	code := errorCode(sw.head)
	if code == "" {
		code = statusCode(sw.status)
	}
	m.GraphQLRequest(metrics.TypeUnknown, "", code, d)
}

// errorCode returns the extensions.code of the first error of a GraphQL
// error response body, "" when the body is not one.
func errorCode(body []byte) string {
	var resp struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &resp) != nil || len(resp.Errors) == 0 {
		return ""
	}
	return resp.Errors[0].Extensions.Code
}

// statusCode is the error code (§6) an HTTP error status implies: the
// auth guard's codes for 401, 403 and 429 (auth/verifier.go), graph's else.
func statusCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return auth.CodeUnauthenticated
	case http.StatusForbidden:
		return auth.CodeForbidden
	case http.StatusTooManyRequests:
		return auth.CodeRateLimited
	case http.StatusServiceUnavailable:
		return graph.CodeComplexityLimitExceeded
	}
	if status >= 500 {
		return graph.CodeInternal
	}
	return graph.CodeBadUserInput
}
