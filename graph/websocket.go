package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
)

// wsImplementation accepts WebSocket connections with coder/websocket, as
// gqlgen's default adapter does, with two differences: every write is
// bounded by the stream's write timeout (a client that stops reading is
// disconnected after it), and the connection closes with the stream's drop
// code (1013 for a subscriber that fell behind, 1001 at shutdown) instead
// of gqlgen's normal closure.
type wsImplementation struct {
	// checkOrigin decides cross-origin upgrades (auth.CORS's
	// CheckWebSocketOrigin); nil keeps coder/websocket's same-origin rule.
	checkOrigin func(*http.Request) bool
}

func (i wsImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	var accept coderws.AcceptOptions
	if i.checkOrigin != nil {
		if !i.checkOrigin(r) {
			http.Error(w, "WebSocket origin not allowed", http.StatusForbidden)
			return nil, fmt.Errorf("origin %q not allowed", r.Header.Get("Origin"))
		}
		accept.InsecureSkipVerify = true
	}
	for k, vs := range opts.ResponseHeader {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, p := range opts.Subprotocols {
		if !slices.Contains(accept.Subprotocols, p) {
			accept.Subprotocols = append(accept.Subprotocols, p)
		}
	}
	conn, err := coderws.Accept(w, r, &accept)
	if err != nil {
		return nil, err
	}
	c := &wsConn{conn: conn, st: streamFrom(r.Context())}
	return c, nil
}

type wsConn struct {
	conn *coderws.Conn
	st   *stream

	mu        sync.Mutex
	readTimer *time.Timer
	closing   bool

	wmu        sync.Mutex  // one write at a time (gqlgen's writes are already)
	buf        []byte      // the message being written, reused
	writeTimer *time.Timer // closes the connection when a write takes too long
}

var (
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

func (c *wsConn) Subprotocol() string      { return c.conn.Subprotocol() }
func (c *wsConn) SetReadLimit(limit int64) { c.conn.SetReadLimit(limit) }

func (c *wsConn) NextReader() (int, io.Reader, error) {
	typ, data, err := c.conn.Read(context.Background())
	if err != nil {
		switch coderws.CloseStatus(err) {
		case coderws.StatusNormalClosure, coderws.StatusNoStatusRcvd:
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		return int(typ), nil, err
	}
	return int(typ), bytes.NewReader(data), nil
}

// WriteJSON writes v, a message of gqlgen's, bounded by the stream's write
// timeout. Every event used to cost two encodings of its payload besides
// gqlgen's own (json.Marshal of the message compacting the payload again)
// and a context with its timer and AfterFunc a write (coder/websocket's
// write timeout): 3.7 and ~2 µs of the ~35 µs an event took in
// BenchmarkSubscriptionFanOut's CPU profile. Now event messages are
// written as json.Marshal writes them without encoding/json (appendEvent),
// and one timer per connection bounds its writes.
func (c *wsConn) WriteJSON(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	data, ok := appendEvent(c.buf[:0], v)
	if ok {
		c.buf = data
	} else {
		var err error
		if data, err = json.Marshal(v); err != nil {
			return err
		}
	}
	if c.st != nil && c.st.writeTimeout > 0 {
		// When it fires, the connection closes and the write fails, as
		// coder/websocket does when a write's context expires.
		if c.writeTimer == nil {
			c.writeTimer = time.AfterFunc(c.st.writeTimeout, func() { _ = c.conn.CloseNow() })
		} else {
			c.writeTimer.Reset(c.st.writeTimeout)
		}
		defer c.writeTimer.Stop()
	}
	err := c.conn.Write(context.Background(), coderws.MessageText, data)
	if cap(c.buf) > maxKeptBuf {
		c.buf = nil // an idle connection keeps little
	}
	return err
}

// maxKeptBuf is the largest message buffer a connection keeps between
// writes.
const maxKeptBuf = 4 << 10

// WriteClose starts the close handshake in the background (coder waits up
// to 5 s for the peer's close frame), with the stream's drop code when it
// has one.
func (c *wsConn) WriteClose(code int, reason string) error {
	c.stopTimer()
	if c.st != nil {
		c.st.mu.Lock()
		if c.st.code != 0 {
			code, reason = c.st.code, c.st.reason
		}
		c.st.mu.Unlock()
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	c.mu.Unlock()
	go func() { _ = c.conn.Close(coderws.StatusCode(code), reason) }()
	return nil
}

// Close closes the connection at once (a write under way fails; WriteJSON
// stops its own write timer), unless a close handshake owns it.
func (c *wsConn) Close() error {
	c.stopTimer()
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return nil // the close handshake owns the connection
	}
	return c.conn.CloseNow()
}

// SetReadDeadline closes the connection at t (gqlgen uses it for missing
// pongs); a zero t clears it.
func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.stopTimer()
	if t.IsZero() {
		return nil
	}
	d := time.Until(t)
	if d <= 0 {
		return c.conn.CloseNow()
	}
	c.mu.Lock()
	c.readTimer = time.AfterFunc(d, func() { _ = c.conn.CloseNow() })
	c.mu.Unlock()
	return nil
}

func (c *wsConn) stopTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readTimer != nil {
		c.readTimer.Stop()
		c.readTimer = nil
	}
}
