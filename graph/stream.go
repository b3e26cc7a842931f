package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Long-lived requests: WebSocket connections and SSE streams on /query
// (contract §10). They bypass the HTTP-level admission control and request
// timeout, which would hold a slot or cut them off for as long as they
// live; their non-subscription operations are admitted one by one instead
// (streamAdmission). The server's read and write deadlines are cleared for
// them; instead every write to a stream must finish within
// Config.StreamWriteTimeout, else the connection is closed: a client that
// stops reading is dropped after that bound, or sooner when one of its
// subscriptions falls Buffer records behind (WebSocket close code 1013).

// Defaults of Config's stream settings.
const (
	DefaultKeepAlive          = 15 * time.Second
	DefaultStreamWriteTimeout = 30 * time.Second
)

// stream is the state of one long-lived request, in its context.
type stream struct {
	transport    string // "ws" or "sse"
	cancel       context.CancelFunc
	writeTimeout time.Duration

	mu      sync.Mutex
	code    int    // ws: the close code to send instead of gqlgen's
	reason  string // ws: its reason
	aborted bool   // sse: end the response without complete
	w       *sseWriter
}

type streamKey struct{}

func streamFrom(ctx context.Context) *stream {
	st, _ := ctx.Value(streamKey{}).(*stream)
	return st
}

// drop ends the stream: a WebSocket closes with code and reason; an SSE
// stream with an errCode gets a last event with that error and is aborted
// without complete, so that graphql-sse clients retry (without one, SSE
// streams end by themselves: their subscription completes).
func (st *stream) drop(code int, reason, errCode string) {
	if st == nil || st.transport == "sse" && errCode == "" {
		return
	}
	st.mu.Lock()
	if st.code == 0 {
		st.code, st.reason = code, reason
	}
	w := st.w
	if st.transport == "sse" && !st.aborted {
		st.aborted = true
		if errCode != "" && w != nil {
			b, _ := json.Marshal(graphql.Response{Errors: gqlerror.List{{Message: reason, Extensions: map[string]any{"code": errCode}}}})
			w.writeLocked([]byte("event: next\ndata: " + string(b) + "\n\n"))
		}
	}
	st.mu.Unlock()
	st.cancel()
}

// streamKind tells which long-lived transport a request asks for: "ws",
// "sse" or "", asking gqlgen's transports themselves, in the order
// newServer adds them.
func streamKind(r *http.Request) string {
	switch {
	case transport.Websocket{}.Supports(r):
		return "ws"
	case transport.SSE{}.Supports(r):
		return "sse"
	}
	return ""
}

// withStreams sends long-lived requests to srv directly (with the body
// limit) and the others through limited.
func withStreams(srv, limited http.Handler, cfg Config) http.Handler {
	// closed is cancelled when the hub closes: every WebSocket connection
	// then closes (context.AfterFunc: no goroutine per connection).
	closed := context.Background()
	if cfg.Subscriptions != nil {
		var cancel context.CancelFunc
		closed, cancel = context.WithCancel(closed)
		go func() { <-cfg.Subscriptions.Done(); cancel() }()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := streamKind(r)
		if kind == "" {
			limited.ServeHTTP(w, r)
			return
		}
		if cfg.Streams != nil {
			cfg.Streams.Add(1)
			defer cfg.Streams.Done()
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		st := &stream{transport: kind, cancel: cancel, writeTimeout: cfg.StreamWriteTimeout}
		if kind == "ws" { // shutdown closes every connection, subscribed or not
			stop := context.AfterFunc(closed, func() { st.drop(CloseGoingAway, "server shutting down", "") })
			defer stop()
		}
		r = r.WithContext(context.WithValue(ctx, streamKey{}, st))
		if kind == "sse" {
			if cfg.StreamExpiry != nil {
				if at := cfg.StreamExpiry(ctx); !at.IsZero() {
					// 0: SSE has no close code
					t := time.AfterFunc(time.Until(at), func() { st.drop(0, "token expired", CodeUnauthenticated) })
					defer t.Stop()
				}
			}
			sw := &sseWriter{ResponseWriter: w, st: st, rc: rc}
			st.mu.Lock()
			st.w = sw
			st.mu.Unlock()
			srv.ServeHTTP(sw, r)
			st.mu.Lock()
			aborted := st.aborted
			st.mu.Unlock()
			if aborted {
				panic(http.ErrAbortHandler) // no complete: the client retries
			}
			return
		}
		srv.ServeHTTP(w, r)
	})
}

// sseWriter bounds each write of an SSE stream by the stream's write
// timeout and discards what gqlgen writes after the stream was dropped.
type sseWriter struct {
	http.ResponseWriter
	st *stream
	rc *http.ResponseController
}

func (w *sseWriter) Write(p []byte) (int, error) {
	w.st.mu.Lock()
	defer w.st.mu.Unlock()
	if w.st.aborted {
		return len(p), nil
	}
	return w.writeLocked(p)
}

func (w *sseWriter) writeLocked(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.st.writeTimeout))
	n, err := w.ResponseWriter.Write(p)
	if err == nil {
		err = w.rc.Flush()
	}
	return n, err
}

func (w *sseWriter) Flush() {} // every Write flushes

func (w *sseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// streamAdmission admits the queries sent over a stream like those sent
// over HTTP: a slot of the concurrency limit and the request timeout, for
// the time of the operation. Subscriptions take no slot.
type streamAdmission struct {
	slots   chan struct{}
	timeout time.Duration
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = streamAdmission{}

func (streamAdmission) ExtensionName() string                   { return "StreamAdmission" }
func (streamAdmission) Validate(graphql.ExecutableSchema) error { return nil }

func (a streamAdmission) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if streamFrom(ctx) == nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	cancel := context.CancelFunc(func() {})
	if a.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		ctx = context.WithValue(ctx, timeoutKey{}, a.timeout)
	}
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		cancel()
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{contextEnded(ctx)}})
	}
	var once sync.Once
	release := func() { once.Do(func() { <-a.slots; cancel() }) }
	rh := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := rh(ctx)
		release()
		return resp
	}
}
