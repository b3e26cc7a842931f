package enginefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// c7Date is Camunda 7's date form, e.g. 2024-05-14T09:12:03.417+0200.
const c7Date = "2006-01-02T15:04:05.000-0700"

// Batch is a Camunda 7 runtime batch (BatchDto) with its statistics. The
// JSON form is the API's, with dates like 2024-05-14T09:12:03.417+0200;
// completedJobs is derived (totalJobs - remainingJobs).
type Batch struct {
	ID                     string     `json:"id"`
	Type                   string     `json:"type"`
	TotalJobs              int        `json:"totalJobs"`
	JobsCreated            int        `json:"jobsCreated"`
	BatchJobsPerSeed       int        `json:"batchJobsPerSeed"`
	InvocationsPerBatchJob int        `json:"invocationsPerBatchJob"`
	SeedJobDefinitionID    string     `json:"seedJobDefinitionId"`
	MonitorJobDefinitionID string     `json:"monitorJobDefinitionId"`
	BatchJobDefinitionID   string     `json:"batchJobDefinitionId"`
	Suspended              bool       `json:"suspended"`
	TenantID               *string    `json:"tenantId"`
	CreateUserID           *string    `json:"createUserId"`
	StartTime              *time.Time `json:"startTime"`
	ExecutionStartTime     *time.Time `json:"executionStartTime"`
	RemainingJobs          int        `json:"remainingJobs"`
	FailedJobs             int        `json:"failedJobs"`
}

// HistoricBatch is a Camunda 7 historic batch (HistoricBatchDto).
type HistoricBatch struct {
	ID                     string     `json:"id"`
	Type                   string     `json:"type"`
	TotalJobs              int        `json:"totalJobs"`
	BatchJobsPerSeed       int        `json:"batchJobsPerSeed"`
	InvocationsPerBatchJob int        `json:"invocationsPerBatchJob"`
	SeedJobDefinitionID    string     `json:"seedJobDefinitionId"`
	MonitorJobDefinitionID string     `json:"monitorJobDefinitionId"`
	BatchJobDefinitionID   string     `json:"batchJobDefinitionId"`
	TenantID               *string    `json:"tenantId"`
	CreateUserID           *string    `json:"createUserId"`
	StartTime              *time.Time `json:"startTime"`
	ExecutionStartTime     *time.Time `json:"executionStartTime"`
	EndTime                *time.Time `json:"endTime"`
	RemovalTime            *time.Time `json:"removalTime"`
}

// c7Time is a date in Camunda 7's JSON form.
type c7Time struct{ t *time.Time }

func (d c7Time) MarshalJSON() ([]byte, error) {
	if d.t == nil {
		return []byte("null"), nil
	}
	return json.Marshal(d.t.Format(c7Date))
}

func (d *c7Time) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil || s == nil {
		d.t = nil
		return err
	}
	for _, layout := range []string{c7Date, time.RFC3339Nano} {
		if t, err := time.Parse(layout, *s); err == nil {
			d.t = &t
			return nil
		}
	}
	return fmt.Errorf("date %q is neither like 2024-05-14T09:12:03.417+0200 nor RFC 3339", *s)
}

// The JSON forms embed the state type as a plain copy (its own type
// without methods, so no recursion) and shadow its *time.Time fields with
// c7Time ones: encoding/json takes the shallower of two fields of a name,
// and since the dates and counts are the types' last fields, the API's
// field order is kept. A field added to Batch or HistoricBatch is in the
// JSON with nothing else to change.
type (
	plainBatch    Batch
	plainHistoric HistoricBatch
)

// batchJSON is a Batch in the API's form: the statistics form (BatchDto
// plus the three counts, completedJobs derived) or, with the counts nil,
// BatchDto alone.
type batchJSON struct {
	*plainBatch
	StartTime          c7Time `json:"startTime"`
	ExecutionStartTime c7Time `json:"executionStartTime"`
	RemainingJobs      *int   `json:"remainingJobs,omitempty"`
	CompletedJobs      *int   `json:"completedJobs,omitempty"`
	FailedJobs         *int   `json:"failedJobs,omitempty"`
}

func (b Batch) dto() batchJSON {
	return batchJSON{plainBatch: (*plainBatch)(&b), StartTime: c7Time{b.StartTime}, ExecutionStartTime: c7Time{b.ExecutionStartTime}}
}

func (b Batch) statsDTO() batchJSON {
	d := b.dto()
	completed := b.TotalJobs - b.RemainingJobs
	d.RemainingJobs, d.CompletedJobs, d.FailedJobs = &d.plainBatch.RemainingJobs, &completed, &d.plainBatch.FailedJobs
	return d
}

// MarshalJSON writes the statistics form (BatchDto plus the three counts).
func (b Batch) MarshalJSON() ([]byte, error) { return json.Marshal(b.statsDTO()) }

// UnmarshalJSON reads the statistics form; dates may also be RFC 3339.
func (b *Batch) UnmarshalJSON(data []byte) error {
	v := batchJSON{plainBatch: new(plainBatch)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*b = Batch(*v.plainBatch)
	b.StartTime, b.ExecutionStartTime = v.StartTime.t, v.ExecutionStartTime.t
	if v.RemainingJobs != nil {
		b.RemainingJobs = *v.RemainingJobs
	}
	if v.FailedJobs != nil {
		b.FailedJobs = *v.FailedJobs
	}
	return nil
}

// historicJSON is a HistoricBatch in the API's form.
type historicJSON struct {
	*plainHistoric
	StartTime          c7Time `json:"startTime"`
	ExecutionStartTime c7Time `json:"executionStartTime"`
	EndTime            c7Time `json:"endTime"`
	RemovalTime        c7Time `json:"removalTime"`
}

// MarshalJSON writes the API form.
func (h HistoricBatch) MarshalJSON() ([]byte, error) {
	return json.Marshal(historicJSON{(*plainHistoric)(&h),
		c7Time{h.StartTime}, c7Time{h.ExecutionStartTime}, c7Time{h.EndTime}, c7Time{h.RemovalTime}})
}

// UnmarshalJSON reads the API form; dates may also be RFC 3339.
func (h *HistoricBatch) UnmarshalJSON(data []byte) error {
	v := historicJSON{plainHistoric: new(plainHistoric)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*h = HistoricBatch(*v.plainHistoric)
	h.StartTime, h.ExecutionStartTime, h.EndTime, h.RemovalTime = v.StartTime.t, v.ExecutionStartTime.t, v.EndTime.t, v.RemovalTime.t
	return nil
}

// Camunda7 is a stateful fake of the Camunda 7 batch REST API, served under
// /engine-rest.
type Camunda7 struct {
	base

	mu      sync.Mutex
	runtime map[string]*Batch
	history map[string]*HistoricBatch
	nextID  int
}

// NewCamunda7 returns an empty Camunda 7 fake.
func NewCamunda7(opts ...Option) *Camunda7 {
	c := &Camunda7{runtime: map[string]*Batch{}, history: map[string]*HistoricBatch{}}
	c.init("camunda7", newConfig(opts))
	c.renderError = func(w http.ResponseWriter, _ *http.Request, status int, typ, msg string) {
		if typ == "" {
			typ = "RestException"
		}
		c7Error(w, status, typ, msg, nil)
	}
	return c
}

func c7Error(w http.ResponseWriter, status int, typ, msg string, code *int) {
	writeJSON(w, status, map[string]any{"type": typ, "message": msg, "code": code})
}

func (c *Camunda7) uuid() string {
	c.nextID++
	return fmt.Sprintf("%08x-1b2d-11ef-8a4e-0242ac130003", 0x3f0c8a52+c.nextID)
}

// AddBatch adds a running batch and its historic row (endTime null) and
// returns it. An empty ID and job definition ids get fresh UUIDs, zero
// BatchJobsPerSeed and InvocationsPerBatchJob the defaults 100 and 1, a nil
// StartTime the clock's now; the statistics are taken as given.
func (c *Camunda7) AddBatch(b Batch) Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range []*string{&b.ID, &b.SeedJobDefinitionID, &b.MonitorJobDefinitionID, &b.BatchJobDefinitionID} {
		if *id == "" {
			*id = c.uuid()
		}
	}
	if b.BatchJobsPerSeed == 0 {
		b.BatchJobsPerSeed = 100
	}
	if b.InvocationsPerBatchJob == 0 {
		b.InvocationsPerBatchJob = 1
	}
	if b.StartTime == nil {
		now := c.cfg.clock.Now()
		b.StartTime = &now
	}
	c.runtime[b.ID] = &b
	c.history[b.ID] = historicOf(b)
	return b
}

func historicOf(b Batch) *HistoricBatch {
	return &HistoricBatch{ID: b.ID, Type: b.Type, TotalJobs: b.TotalJobs, BatchJobsPerSeed: b.BatchJobsPerSeed,
		InvocationsPerBatchJob: b.InvocationsPerBatchJob, SeedJobDefinitionID: b.SeedJobDefinitionID,
		MonitorJobDefinitionID: b.MonitorJobDefinitionID, BatchJobDefinitionID: b.BatchJobDefinitionID,
		TenantID: b.TenantID, CreateUserID: b.CreateUserID, StartTime: b.StartTime, ExecutionStartTime: b.ExecutionStartTime}
}

// PutHistoricBatch adds or replaces a historic batch (e.g. one that finished
// before the test started).
func (c *Camunda7) PutHistoricBatch(h HistoricBatch) {
	c.mu.Lock()
	c.history[h.ID] = &h
	c.mu.Unlock()
}

// UpdateBatch changes a running batch through fn; the historic row follows.
func (c *Camunda7) UpdateBatch(id string, fn func(*Batch)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.runtime[id]
	if !ok {
		return fmt.Errorf("camunda7 fake: no running batch %q", id)
	}
	fn(b)
	b.ID = id
	h := historicOf(*b)
	if old, ok := c.history[id]; ok {
		h.EndTime, h.RemovalTime = old.EndTime, old.RemovalTime
	}
	c.history[id] = h
	return nil
}

// SetStatistics sets a running batch's jobsCreated, remainingJobs and
// failedJobs, checking the engine's invariants (0 <= failed <= remaining <=
// totalJobs). The first time a job has run, executionStartTime becomes the
// clock's now.
func (c *Camunda7) SetStatistics(id string, jobsCreated, remaining, failed int) error {
	c.mu.Lock()
	b, ok := c.runtime[id]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("camunda7 fake: no running batch %q", id)
	}
	if jobsCreated < 0 || failed < 0 || failed > remaining || remaining > b.TotalJobs {
		return fmt.Errorf("camunda7 fake: statistics created=%d remaining=%d failed=%d break 0 <= failed <= remaining <= totalJobs=%d",
			jobsCreated, remaining, failed, b.TotalJobs)
	}
	return c.UpdateBatch(id, func(b *Batch) {
		b.JobsCreated, b.RemainingJobs, b.FailedJobs = jobsCreated, remaining, failed
		if b.ExecutionStartTime == nil && (remaining < b.TotalJobs || failed > 0) {
			now := c.cfg.clock.Now()
			b.ExecutionStartTime = &now
		}
	})
}

// Finish ends a running batch as the monitor job does: the runtime batch
// goes, the historic row gets endTime = now and, when ttl > 0, removalTime =
// endTime + ttl.
func (c *Camunda7) Finish(id string, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.runtime[id]; !ok {
		return fmt.Errorf("camunda7 fake: no running batch %q", id)
	}
	delete(c.runtime, id)
	h, ok := c.history[id]
	if !ok {
		return nil // history level below FULL
	}
	now := c.cfg.clock.Now()
	h.EndTime = &now
	if ttl > 0 {
		rm := now.Add(ttl)
		h.RemovalTime = &rm
	}
	return nil
}

// DeleteHistory removes a historic batch, as history cleanup does.
func (c *Camunda7) DeleteHistory(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.history[id]; !ok {
		return fmt.Errorf("camunda7 fake: no historic batch %q", id)
	}
	delete(c.history, id)
	return nil
}

// Batch returns a copy of a running batch.
func (c *Camunda7) Batch(id string) (Batch, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.runtime[id]
	if !ok {
		return Batch{}, false
	}
	return *b, true
}

// HistoricBatch returns a copy of a historic batch.
func (c *Camunda7) HistoricBatch(id string) (HistoricBatch, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.history[id]
	if !ok {
		return HistoricBatch{}, false
	}
	return *h, true
}

// ServeHTTP serves /engine-rest/batch..., /engine-rest/history/batch... and
// /__fake/.
func (c *Camunda7) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.serve(w, r, http.HandlerFunc(c.route))
}

func (c *Camunda7) route(w http.ResponseWriter, r *http.Request) {
	if c.cfg.user != "" && !basicOK(r, c.cfg.user, c.cfg.pass) {
		w.Header().Set("WWW-Authenticate", `Basic realm="default"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/engine-rest")
	if !ok {
		c7Error(w, http.StatusNotFound, "NotFoundException", "HTTP 404 Not Found", nil)
		return
	}
	if r.Method != http.MethodGet {
		c7Error(w, http.StatusMethodNotAllowed, "NotAllowedException", "HTTP 405 Method Not Allowed", nil)
		return
	}
	switch p {
	case "/batch":
		c.list(w, r, runtimeQuery, false)
	case "/batch/count":
		c.list(w, r, runtimeQuery, true)
	case "/batch/statistics":
		c.list(w, r, statisticsQuery, false)
	case "/batch/statistics/count":
		c.list(w, r, statisticsQuery, true)
	case "/history/batch":
		c.list(w, r, historyQuery, false)
	case "/history/batch/count":
		c.list(w, r, historyQuery, true)
	default:
		c.byID(w, p)
	}
}

func (c *Camunda7) byID(w http.ResponseWriter, p string) {
	if id, ok := strings.CutPrefix(p, "/history/batch/"); ok && !strings.Contains(id, "/") {
		id, _ = url.PathUnescape(id)
		if h, ok := c.HistoricBatch(id); ok {
			writeJSON(w, http.StatusOK, h)
			return
		}
		c7Error(w, http.StatusNotFound, "InvalidRequestException", fmt.Sprintf("Historic batch with id '%s' does not exist", id), nil)
		return
	}
	if id, ok := strings.CutPrefix(p, "/batch/"); ok && !strings.Contains(id, "/") {
		id, _ = url.PathUnescape(id)
		if b, ok := c.Batch(id); ok {
			writeJSON(w, http.StatusOK, b.dto())
			return
		}
		c7Error(w, http.StatusNotFound, "InvalidRequestException", fmt.Sprintf("Batch with id '%s' does not exist", id), nil)
		return
	}
	c7Error(w, http.StatusNotFound, "NotFoundException", "HTTP 404 Not Found", nil)
}
