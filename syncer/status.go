package syncer

import (
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/batchql/batchql/importer"
)

// Engine names an engine kind (GraphQL enum SyncEngine).
type Engine string

// The engines.
const (
	Camunda7 Engine = "CAMUNDA7"
	Camunda8 Engine = "CAMUNDA8"
)

// State is how syncing from a source goes (GraphQL enum SyncState).
type State string

// The states of a source.
const (
	// Starting: no poll has finished yet.
	Starting State = "STARTING"
	// OK: the last poll read all it meant to.
	OK State = "OK"
	// BackingOff: the engine asked to slow down (429, 502, 503, 504,
	// RESOURCE_EXHAUSTED) or did not answer; requests are retried with
	// backoff.
	BackingOff State = "BACKING_OFF"
	// Failing: the last poll failed (engine down, 500s, a garbled answer,
	// 401/403); the next one comes after a backoff.
	Failing State = "FAILING"
)

// Status is one source's state, as syncStatus and /healthz show it and as
// the metrics read it. It never holds credentials.
type Status struct {
	Engine        Engine
	URL           string // without credentials
	State         State
	LastAttemptAt *time.Time
	LastSuccessAt *time.Time
	LastError     *string
	// RecordsWritten counts records new or changed since the server started.
	RecordsWritten int
	Quarantined    []Quarantined
	// Errors counts failed requests (each retry too) and failed polls
	// since the server started (batchql_sync_errors_total).
	Errors int
	// LastPollRequests is the number of requests the last finished poll
	// sent (retries included), and LastPollFull whether it was a full
	// reconciliation.
	LastPollRequests int
	LastPollFull     bool
	// LastFullAt is when the last full reconciliation succeeded, and
	// LastFullRequests the requests it sent (with those of the polls of
	// running work it made between its item pages).
	LastFullAt       *time.Time
	LastFullRequests int
	// Leader and ReplicationLagSeconds are set by the server with --nats
	// (contract §13), nil without: the id of the server that holds the
	// sync lease (this one or another; nil while none does), and how far
	// this server's database is behind the stream.
	Leader                *string
	ReplicationLagSeconds *float64
}

// Quarantined is a record the store could not take: skipped, listed here,
// and retried (it leaves the list when it lands, or when a full
// reconciliation no longer finds it bad).
type Quarantined struct {
	Kind   string // importer kind, e.g. "batch operation"
	Key    string // natural key (an item: operation key/item key)
	Field  *string
	Value  *string // JSON text of the offending value
	Reason string
	Since  time.Time
}

// tracker keeps one source's Status; its methods are goroutine-safe.
type tracker struct {
	mu   sync.Mutex
	st   Status
	q    map[string]*qEntry
	gen  int // full reconciliations begun
	reqs int // requests of the poll in progress
}

type qEntry struct {
	Quarantined
	gen int
}

func newTracker(e Engine, url string) *tracker {
	return &tracker{st: Status{Engine: e, URL: url, State: Starting}, q: map[string]*qEntry{}}
}

func (t *tracker) status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	st.Quarantined = make([]Quarantined, 0, len(t.q))
	for _, e := range t.q {
		st.Quarantined = append(st.Quarantined, e.Quarantined)
	}
	sort.Slice(st.Quarantined, func(i, j int) bool {
		a, b := st.Quarantined[i], st.Quarantined[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Key < b.Key
	})
	return st
}

func (t *tracker) begin(now time.Time, full bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.LastAttemptAt = &now
	t.reqs = 0
	if full {
		t.gen++
	}
}

func (t *tracker) request() {
	t.mu.Lock()
	t.reqs++
	t.mu.Unlock()
}

// retrying notes a request that failed and will be retried.
func (t *tracker) retrying(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Errors++
	t.st.State = BackingOff
	msg := err.Error()
	t.st.LastError = &msg
}

func (t *tracker) succeeded(now time.Time, full bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.State, t.st.LastSuccessAt, t.st.LastError = OK, &now, nil
	t.st.LastPollRequests, t.st.LastPollFull = t.reqs, full
	if full {
		t.st.LastFullAt, t.st.LastFullRequests = &now, t.reqs
		for k, e := range t.q { // not found bad again by this full pass
			if e.gen < t.gen {
				delete(t.q, k)
			}
		}
	}
}

func (t *tracker) failed(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Errors++
	t.st.State = Failing
	var he *HTTPError
	if errors.As(err, &he) && he.retryable() {
		t.st.State = BackingOff
	}
	msg := err.Error()
	t.st.LastError = &msg
}

func (t *tracker) written(n int) {
	t.mu.Lock()
	t.st.RecordsWritten += n
	t.mu.Unlock()
}

// family is the quarantine's name of a record: Camunda 7's three kinds are
// one record.
func family(kind, key string) string {
	switch kind {
	case importer.KindBatchStats, importer.KindHistoricBatch:
		kind = importer.KindBatch
	}
	return kind + "\x00" + key
}

// quarantine lists a record and reports whether it is newly listed.
func (t *tracker) quarantine(now time.Time, kind, key string, field, value *string, reason string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := family(kind, key)
	e, ok := t.q[k]
	if !ok {
		e = &qEntry{Quarantined: Quarantined{Since: now}}
		t.q[k] = e
	}
	e.Kind, e.Key, e.Field, e.Value, e.Reason, e.gen = kind, key, field, value, reason, t.gen
	return !ok
}

// landed takes records that were applied off the quarantine list.
func (t *tracker) landed(patches []*importer.Patch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.q) == 0 {
		return
	}
	for _, p := range patches {
		delete(t.q, family(p.Kind(), p.Key()))
	}
}
