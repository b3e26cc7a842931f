package enginefake

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Fault is a misbehaviour of the engine (or of a proxy in front of it) that a
// fake applies to the next requests. Faults are queued by InjectFault; a
// request gets the first queued fault whose Path matches.
type Fault struct {
	// Status answers with this HTTP status (429, 500, 502, 503, 504, ...).
	// 429, 500 and 503, and any status with a Title, get the engine's error
	// body (Camunda 8: problem+json; Camunda 7: {"type","message","code"});
	// other statuses get a proxy's HTML page.
	Status int `json:"status,omitempty"`
	// Title is the problem title (Camunda 8, e.g. RESOURCE_EXHAUSTED) or the
	// exception type (Camunda 7). Default: the status text in upper snake
	// case (Camunda 8) or RestException (Camunda 7).
	Title string `json:"title,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string `json:"retryAfter,omitempty"`
	// Garbage answers 200 with a Content-Type of application/json and a body
	// that is not JSON.
	Garbage bool `json:"garbage,omitempty"`
	// Delay waits this long (or until the client gives up) before answering:
	// with the other fields' fault, or normally when there is none.
	Delay time.Duration `json:"delay,omitempty"`
	// Hang never answers: the handler returns when the client gives up or
	// ClearFaults is called, and then drops the connection.
	Hang bool `json:"hang,omitempty"`
	// Down drops the connection without an answer, as an engine that stopped.
	Down bool `json:"down,omitempty"`
	// Times is the number of requests the fault applies to; 0 means every
	// request until ClearFaults.
	Times int `json:"times,omitempty"`
	// Path, when set, limits the fault to requests whose path starts with it.
	Path string `json:"path,omitempty"`
}

func (f Fault) String() string {
	var parts []string
	if f.Status != 0 {
		parts = append(parts, fmt.Sprint(f.Status))
	}
	if f.Title != "" {
		parts = append(parts, f.Title)
	}
	if f.RetryAfter != "" {
		parts = append(parts, "retry-after="+f.RetryAfter)
	}
	if f.Garbage {
		parts = append(parts, "garbage")
	}
	if f.Delay > 0 {
		parts = append(parts, "delay="+f.Delay.String())
	}
	if f.Hang {
		parts = append(parts, "hang")
	}
	if f.Down {
		parts = append(parts, "down")
	}
	return strings.Join(parts, " ")
}

// InjectFault queues f for the next requests (see Fault.Times and Path).
// Paths under /__fake/ are never faulted.
func (b *base) InjectFault(f Fault) {
	b.logMu.Lock()
	b.faults = append(b.faults, f)
	b.logMu.Unlock()
}

// ClearFaults drops all queued faults and lets hung requests return.
func (b *base) ClearFaults() {
	b.logMu.Lock()
	b.faults = nil
	close(b.release)
	b.release = make(chan struct{})
	b.logMu.Unlock()
}

// nextFault takes the fault due for a request to path, if any.
func (b *base) nextFault(path string) (Fault, bool) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	for i, f := range b.faults {
		if f.Path != "" && !strings.HasPrefix(path, f.Path) {
			continue
		}
		if f.Times > 0 {
			b.faults[i].Times--
			if b.faults[i].Times == 0 {
				b.faults = append(b.faults[:i:i], b.faults[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}

// applyFault answers r as f says and reports whether it did; false means
// the request goes on to the API (a pure Delay).
func (b *base) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	b.logMu.Lock()
	release := b.release
	b.logMu.Unlock()
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		case <-release:
		}
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-release:
		}
		panic(http.ErrAbortHandler)
	case f.Down:
		dropConnection(w)
		return true
	case f.Garbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"items":[{"batchOperationKey":"22517998136` + "\x00\xff<html>"))
		return true
	case f.Status != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		engine := f.Title != "" || f.Status == http.StatusTooManyRequests ||
			f.Status == http.StatusInternalServerError || f.Status == http.StatusServiceUnavailable
		if !engine {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.Status)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", f.Status, http.StatusText(f.Status))
			return true
		}
		b.renderError(w, r, f.Status, f.Title, fmt.Sprintf("fake fault: %s", f))
		return true
	}
	return false
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler) // net/http closes the connection quietly
}

// statusTitle turns 503 into SERVICE_UNAVAILABLE.
func statusTitle(status int) string {
	return strings.ToUpper(strings.NewReplacer(" ", "_", "-", "_").Replace(http.StatusText(status)))
}
