package enginefake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FakePrefix starts the paths that belong to the fakes, not to Camunda.
const FakePrefix = "/__fake/"

// Clock tells the fakes the time: token expiry and the dates the state API
// writes (startDate, processedDate, endTime, ...).
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when the test moves it.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock that reads t until moved.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// config is what the options set; each fake reads the fields that concern it.
type config struct {
	clock       Clock
	user, pass  string  // basic auth when user != ""
	oauth       *OAuth2 // Camunda 8 only
	totalCap    int     // Camunda 8: cap on page.totalItems
	bug61727    bool
	bug45988    bool
	bug33720    bool
	itemSorts88 bool // Camunda 8: the item search's 8.8 sort fields
	maxResults  int  // Camunda 7: queryMaxResultsLimit, 0 = off
	logBodySize int
}

// Option configures a fake.
type Option func(*config)

// WithClock sets the fake's clock (default: the system clock).
func WithClock(c Clock) Option { return func(cfg *config) { cfg.clock = c } }

// WithBasicAuth makes the fake require HTTP basic auth with user and pass.
func WithBasicAuth(user, pass string) Option {
	return func(cfg *config) { cfg.user, cfg.pass = user, pass }
}

// WithOAuth2 makes the Camunda 8 fake require bearer tokens issued by its
// token endpoint (TokenPath) for the client credentials in o.
func WithOAuth2(o OAuth2) Option { return func(cfg *config) { cfg.oauth = &o } }

// WithTotalItemsCap sets the Camunda 8 cap on page.totalItems (default
// 10,000, the documented Elasticsearch/OpenSearch and RDBMS default).
func WithTotalItemsCap(n int) Option { return func(cfg *config) { cfg.totalCap = n } }

// WithBug61727 reproduces camunda/camunda#61727 in the Camunda 8 fake: a
// finished operation reads COMPLETED even when items failed (never
// PARTIALLY_COMPLETED), and Progress updates the operation (counts, state,
// endDate) at once while the items it moved stay ACTIVE until the next
// Progress or SettleItems, so an operation can read COMPLETED while items
// are still ACTIVE.
func WithBug61727() Option { return func(cfg *config) { cfg.bug61727 = true } }

// WithBug45988 reproduces camunda/camunda#45988 in the Camunda 8 fake:
// DELETE_DECISION_INSTANCE items show processInstanceKey "-1".
func WithBug45988() Option { return func(cfg *config) { cfg.bug45988 = true } }

// WithBug33720 reproduces camunda/camunda#33720 (open) in the Camunda 8
// fake: the item search does not map the API's item state ACTIVE to the
// stored SCHEDULED, so filters and the state sort see an ACTIVE item as
// SCHEDULED: state $eq ACTIVE finds nothing, $neq ACTIVE every item.
// Responses still say ACTIVE.
func WithBug33720() Option { return func(cfg *config) { cfg.bug33720 = true } }

// WithItemSorts88 makes the Camunda 8 fake's item search take the sort
// fields of 8.8 only (batchOperationKey, itemKey, processInstanceKey,
// state): processedDate came in 8.9, and a sort on it gets 400
// INVALID_ARGUMENT like any field not in the list.
func WithItemSorts88() Option { return func(cfg *config) { cfg.itemSorts88 = true } }

// WithQueryMaxResultsLimit sets Camunda 7's queryMaxResultsLimit: for an
// authenticated user (basic auth on), a list query without maxResults or with
// maxResults over n gives 400.
func WithQueryMaxResultsLimit(n int) Option { return func(cfg *config) { cfg.maxResults = n } }

func newConfig(opts []Option) config {
	cfg := config{clock: systemClock{}, totalCap: 10000, logBodySize: 1 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Request is one entry of a fake's request log.
type Request struct {
	Seq    int64     `json:"seq"` // order of arrival, across all fakes of the process
	Engine string    `json:"engine"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Query  string    `json:"query"` // raw query string
	Body   string    `json:"body"`  // the first MiB
	Time   time.Time `json:"time"`  // wall clock at arrival
	Auth   string    `json:"auth"`  // none, basic, bearer or other
	Status int       `json:"status"`
	Fault  string    `json:"fault,omitempty"` // the fault applied, if any
}

var seq atomic.Int64

// InFlight is a fake's count of requests being answered.
type InFlight struct {
	Current int `json:"current"`
	Max     int `json:"max"` // since the fake started or ResetRequests
}

// base is what both fakes share: request log, in-flight counter and faults.
type base struct {
	engine string
	cfg    config

	logMu    sync.Mutex // guards log, inflight, faults, release
	log      []Request
	inflight InFlight
	faults   []Fault
	release  chan struct{} // closed by ClearFaults: hung requests return

	// renderError writes the engine's error body.
	renderError func(w http.ResponseWriter, r *http.Request, status int, title, detail string)
}

func (b *base) init(engine string, cfg config) {
	b.engine, b.cfg, b.release = engine, cfg, make(chan struct{})
}

// Requests returns a copy of the request log, oldest first. Paths under
// /__fake/ are not logged.
func (b *base) Requests() []Request {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return append([]Request(nil), b.log...)
}

// ResetRequests empties the request log and resets the in-flight maximum.
func (b *base) ResetRequests() {
	b.logMu.Lock()
	b.log = nil
	b.inflight.Max = b.inflight.Current
	b.logMu.Unlock()
}

// InFlight returns the number of requests being answered and its maximum.
func (b *base) InFlight() InFlight {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.inflight
}

func authKind(r *http.Request) string {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return "none"
	case strings.HasPrefix(h, "Basic "):
		return "basic"
	case strings.HasPrefix(h, "Bearer "):
		return "bearer"
	}
	return "other"
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
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
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (Fault.Down).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serve logs r, counts it in flight, applies a fault if one is due and
// otherwise hands r to next. Paths under FakePrefix go to the fake's own
// endpoints.
func (b *base) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if strings.HasPrefix(r.URL.Path, FakePrefix) {
		b.serveFake(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(b.cfg.logBodySize)+1))
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body)) // the handler reads it all
	if len(body) > b.cfg.logBodySize {
		body = body[:b.cfg.logBodySize]
	}
	entry := Request{
		Seq: seq.Add(1), Engine: b.engine, Method: r.Method, Path: r.URL.Path,
		Query: r.URL.RawQuery, Body: string(body), Time: time.Now(), Auth: authKind(r),
	}
	f, fault := b.nextFault(r.URL.Path)
	if fault {
		entry.Fault = f.String()
	}
	b.logMu.Lock()
	idx := len(b.log)
	b.log = append(b.log, entry)
	b.inflight.Current++
	b.inflight.Max = max(b.inflight.Max, b.inflight.Current)
	b.logMu.Unlock()

	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		b.logMu.Lock()
		b.inflight.Current--
		if idx < len(b.log) && b.log[idx].Seq == entry.Seq {
			b.log[idx].Status = sw.status
		}
		b.logMu.Unlock()
	}()
	if fault && b.applyFault(sw, r, f) {
		return
	}
	next.ServeHTTP(sw, r)
}

// serveFake answers GET /__fake/requests and GET /__fake/inflight.
func (b *base) serveFake(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == FakePrefix+"requests" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, b.Requests())
	case r.URL.Path == FakePrefix+"requests" && r.Method == http.MethodDelete:
		b.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == FakePrefix+"inflight" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, b.InFlight())
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, ctype string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
