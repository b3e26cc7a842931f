package enginefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Operation is a Camunda 8 batch operation (BatchOperationResponse). Its JSON
// form is the API's; enums are not checked, so a test can serve values from
// a newer engine (e.g. Type "FUTURE_TYPE").
type Operation struct {
	Key            string           `json:"batchOperationKey"`
	State          string           `json:"state"`
	Type           string           `json:"batchOperationType"`
	StartDate      *time.Time       `json:"startDate"`
	EndDate        *time.Time       `json:"endDate"`
	ActorType      *string          `json:"actorType"`
	ActorID        *string          `json:"actorId"`
	TotalCount     int32            `json:"operationsTotalCount"`
	FailedCount    int32            `json:"operationsFailedCount"`
	CompletedCount int32            `json:"operationsCompletedCount"`
	Errors         []OperationError `json:"errors"`
}

// OperationError is a BatchOperationError.
type OperationError struct {
	PartitionID int32  `json:"partitionId"`
	Type        string `json:"type"`
	Message     string `json:"message"`
}

// Item is a Camunda 8 batch operation item (BatchOperationItemResponse). An
// empty ProcessInstanceKey is served as null (8.10), or as "-1" for decision
// items with WithBug45988 (8.9).
type Item struct {
	OperationType          string     `json:"operationType"`
	OperationKey           string     `json:"batchOperationKey"`
	ItemKey                string     `json:"itemKey"`
	ProcessInstanceKey     string     `json:"processInstanceKey"`
	RootProcessInstanceKey *string    `json:"rootProcessInstanceKey"`
	State                  string     `json:"state"`
	ProcessedDate          *time.Time `json:"processedDate"`
	ErrorMessage           *string    `json:"errorMessage"`
}

// c8Date is the Camunda 8 date form the SDK's schema accepts: UTC, "Z",
// milliseconds.
const c8Date = "2006-01-02T15:04:05.000Z"

func c8Time(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(c8Date)
	return &s
}

// MarshalJSON writes the API form, in the API's field order: dates in UTC
// with milliseconds, errors always an array.
func (o Operation) MarshalJSON() ([]byte, error) {
	errs := o.Errors
	if errs == nil {
		errs = []OperationError{}
	}
	return json.Marshal(struct {
		Key            string           `json:"batchOperationKey"`
		State          string           `json:"state"`
		Type           string           `json:"batchOperationType"`
		StartDate      *string          `json:"startDate"`
		EndDate        *string          `json:"endDate"`
		ActorType      *string          `json:"actorType"`
		ActorID        *string          `json:"actorId"`
		TotalCount     int32            `json:"operationsTotalCount"`
		FailedCount    int32            `json:"operationsFailedCount"`
		CompletedCount int32            `json:"operationsCompletedCount"`
		Errors         []OperationError `json:"errors"`
	}{o.Key, o.State, o.Type, c8Time(o.StartDate), c8Time(o.EndDate), o.ActorType, o.ActorID,
		o.TotalCount, o.FailedCount, o.CompletedCount, errs})
}

// MarshalJSON writes the API form of an item, in the API's field order.
func (it Item) MarshalJSON() ([]byte, error) { return it.appendJSON(make([]byte, 0, 320)), nil }

// appendJSON appends MarshalJSON's form of it to b, by hand: the item
// searches write up to 1,000 a page, and encoding/json cost a reflection
// pass and a compaction of each (a third of the fake's CPU in web's
// TestLoadWhileSyncing).
func (it Item) appendJSON(b []byte) []byte {
	b = append(b, `{"operationType":`...)
	b = appendJSONString(b, it.OperationType)
	b = append(b, `,"batchOperationKey":`...)
	b = appendJSONString(b, it.OperationKey)
	b = append(b, `,"itemKey":`...)
	b = appendJSONString(b, it.ItemKey)
	b = append(b, `,"processInstanceKey":`...)
	if it.ProcessInstanceKey != "" {
		b = appendJSONString(b, it.ProcessInstanceKey)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"rootProcessInstanceKey":`...)
	b = appendOptJSONString(b, it.RootProcessInstanceKey)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, it.State)
	b = append(b, `,"processedDate":`...)
	if it.ProcessedDate != nil {
		b = append(b, '"')
		b = it.ProcessedDate.UTC().AppendFormat(b, c8Date)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"errorMessage":`...)
	b = appendOptJSONString(b, it.ErrorMessage)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes it: as it is when
// nothing in it needs escaping, else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendOptJSONString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// OAuth2 is the client the Camunda 8 fake's token endpoint accepts.
type OAuth2 struct {
	ClientID, ClientSecret string
	Audience               string        // required in the token request when set
	TTL                    time.Duration // token lifetime, sent as expires_in (default 5 min)
}

// TokenPath is where the Camunda 8 fake issues OAuth 2.0 tokens (form POST,
// grant_type=client_credentials). It is the fake's, not Camunda's.
const TokenPath = "/oauth/token"

// Camunda8 is a stateful fake of the Camunda 8 batch-operation API.
type Camunda8 struct {
	base

	mu      sync.Mutex
	ops     map[string]*Operation
	items   map[string]map[string]*Item // operation key, item key
	pending map[string][]Item           // WithBug61727: item moves not yet visible
	order   map[string][]string         // item keys in order, per operation (camunda8_index.go)
	dates   map[string]*dateIndex       // items by processedDate, per operation (camunda8_index.go)
	tokens  map[string]time.Time        // bearer token → expiry
	tokReqs int
	nextKey int64
}

// NewCamunda8 returns an empty Camunda 8 fake.
func NewCamunda8(opts ...Option) *Camunda8 {
	c := &Camunda8{
		ops: map[string]*Operation{}, items: map[string]map[string]*Item{},
		pending: map[string][]Item{}, order: map[string][]string{}, dates: map[string]*dateIndex{}, tokens: map[string]time.Time{},
		nextKey: 2251799813700000,
	}
	c.init("camunda8", newConfig(opts))
	c.renderError = c.problem
	return c
}

// ServeHTTP serves /v2/batch-operations..., TokenPath and /__fake/.
func (c *Camunda8) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.serve(w, r, http.HandlerFunc(c.route))
}

func (c *Camunda8) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == TokenPath && c.cfg.oauth != nil {
		c.token(w, r)
		return
	}
	if !c.authorized(w, r) {
		return
	}
	switch {
	case p == "/v2/batch-operations/search" || p == "/v2/batch-operation-items/search":
		if r.Method != http.MethodPost {
			c.problem(w, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Request method '"+r.Method+"' is not supported")
			return
		}
		if p == "/v2/batch-operations/search" {
			c.search(w, r, operationSearch)
		} else {
			c.search(w, r, c.itemKind())
		}
	case strings.HasPrefix(p, "/v2/batch-operations/") && !strings.Contains(p[len("/v2/batch-operations/"):], "/"):
		if r.Method != http.MethodGet {
			c.problem(w, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Request method '"+r.Method+"' is not supported")
			return
		}
		key, err := url.PathUnescape(p[len("/v2/batch-operations/"):])
		if err != nil || key == "" {
			c.problem(w, r, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("Invalid batch operation key '%s'", p[len("/v2/batch-operations/"):]))
			return
		}
		op, ok := c.Operation(key)
		if !ok {
			c.problem(w, r, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Batch operation with key '%s' not found", key))
			return
		}
		writeJSON(w, http.StatusOK, op)
	default:
		c.problem(w, r, http.StatusNotFound, "NOT_FOUND", "No endpoint "+r.Method+" "+p)
	}
}

// problem writes an RFC 9457 problem detail as Camunda 8 does; an empty
// title is the status text in upper snake case.
func (c *Camunda8) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	if title == "" {
		title = statusTitle(status)
	}
	writeJSONType(w, status, "application/problem+json", map[string]any{
		"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": r.URL.Path,
	})
}

// PutOperation adds op, or replaces the operation with its key.
func (c *Camunda8) PutOperation(op Operation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	op.Errors = append([]OperationError{}, op.Errors...)
	c.ops[op.Key] = &op
	if c.items[op.Key] == nil {
		c.items[op.Key] = map[string]*Item{}
		c.forgetItemOrder(op.Key)
	}
}

// PutItems adds items, or replaces the items with their (operation, item)
// keys. An item's operation need not exist.
func (c *Camunda8) PutItems(items ...Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		c.setItem(it)
	}
}

// DeleteOperation removes an operation and its items.
func (c *Camunda8) DeleteOperation(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ops, key)
	delete(c.items, key)
	delete(c.pending, key)
	delete(c.dates, key)
	c.forgetItemOrder(key)
}

// Operation returns a copy of the operation with key.
func (c *Camunda8) Operation(key string) (Operation, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	op, ok := c.ops[key]
	if !ok {
		return Operation{}, false
	}
	return *op, true
}

// Items returns copies of an operation's items in itemKey order, as served.
func (c *Camunda8) Items(key string) []Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sortedItems(key)
}

func (c *Camunda8) sortedItems(key string) []Item {
	out := make([]Item, 0, len(c.items[key]))
	for _, it := range c.items[key] {
		out = append(out, c.served(*it))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ItemKey < out[j].ItemKey })
	return out
}

// UpdateOperation changes the operation with key through fn.
func (c *Camunda8) UpdateOperation(key string, fn func(*Operation)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	op, ok := c.ops[key]
	if !ok {
		return fmt.Errorf("camunda8 fake: no operation %q", key)
	}
	fn(op)
	op.Key = key
	return nil
}

// Create adds a CREATED operation of type typ with n ACTIVE items (fresh
// numeric item keys; a decision-instance operation's items have no process
// instance key) and returns it.
func (c *Camunda8) Create(key, typ string, n int) Operation {
	c.mu.Lock()
	op := &Operation{Key: key, State: "CREATED", Type: typ, TotalCount: int32(n), Errors: []OperationError{}}
	c.ops[key] = op
	c.items[key] = map[string]*Item{}
	delete(c.dates, key)
	c.forgetItemOrder(key)
	for range n {
		c.nextKey++
		k := strconv.FormatInt(c.nextKey, 10)
		it := Item{OperationType: typ, OperationKey: key, ItemKey: k, ProcessInstanceKey: k, State: "ACTIVE"}
		switch typ {
		case "DELETE_DECISION_INSTANCE", "DELETE_DECISION_DEFINITION":
			it.ProcessInstanceKey = ""
		case "RESOLVE_INCIDENT":
			c.nextKey++
			it.ProcessInstanceKey = strconv.FormatInt(c.nextKey, 10)
		}
		c.setItem(it)
	}
	out := *op
	c.mu.Unlock()
	return out
}

// Progress moves the first completed+failed ACTIVE items of an operation (in
// itemKey order) to COMPLETED, then FAILED, and makes the operation agree:
// CREATED becomes ACTIVE with a startDate, the counts are recounted from the
// items, and when no item is ACTIVE any more the operation gets an endDate
// and the state COMPLETED (PARTIALLY_COMPLETED when items failed). See
// WithBug61727 for the buggy variant.
func (c *Camunda8) Progress(key string, completed, failed int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	op, ok := c.ops[key]
	if !ok {
		return fmt.Errorf("camunda8 fake: no operation %q", key)
	}
	if completed < 0 || failed < 0 {
		return fmt.Errorf("camunda8 fake: negative progress %d/%d", completed, failed)
	}
	c.settle(key)
	var active []*Item
	for _, it := range c.sortedItems(key) {
		if it.State == "ACTIVE" {
			active = append(active, c.items[key][it.ItemKey])
		}
	}
	if completed+failed > len(active) {
		return fmt.Errorf("camunda8 fake: operation %q has %d ACTIVE items, cannot move %d", key, len(active), completed+failed)
	}
	now := c.cfg.clock.Now()
	moved := make([]Item, 0, completed+failed)
	for i, it := range active[:completed+failed] {
		m := *it
		m.ProcessedDate = &now
		m.State = "COMPLETED"
		if i >= completed {
			m.State = "FAILED"
			msg := fmt.Sprintf("Expected to process item '%s', but the engine rejected it (fake failure)", m.ItemKey)
			m.ErrorMessage = &msg
		}
		moved = append(moved, m)
	}
	var total, done, bad int32
	for _, it := range c.items[key] {
		total++
		switch it.State {
		case "COMPLETED":
			done++
		case "FAILED":
			bad++
		}
	}
	for _, m := range moved {
		if m.State == "COMPLETED" {
			done++
		} else {
			bad++
		}
	}
	if op.StartDate == nil {
		op.StartDate = &now
	}
	if op.State == "CREATED" {
		op.State = "ACTIVE"
	}
	op.TotalCount, op.CompletedCount, op.FailedCount = total, done, bad
	if len(active) == len(moved) && op.EndDate == nil {
		op.EndDate = &now
		op.State = "COMPLETED"
		if bad > 0 && !c.cfg.bug61727 {
			op.State = "PARTIALLY_COMPLETED"
		}
	}
	if c.cfg.bug61727 {
		c.pending[key] = moved
		return nil
	}
	for _, m := range moved {
		c.setItem(m)
	}
	return nil
}

// Finish moves all ACTIVE items of an operation to COMPLETED (see Progress).
func (c *Camunda8) Finish(key string) error {
	c.mu.Lock()
	c.settle(key)
	n := 0
	for _, it := range c.items[key] {
		if it.State == "ACTIVE" {
			n++
		}
	}
	c.mu.Unlock()
	return c.Progress(key, n, 0)
}

// SettleItems makes the item moves held back by WithBug61727 visible.
func (c *Camunda8) SettleItems(key string) {
	c.mu.Lock()
	c.settle(key)
	c.mu.Unlock()
}

// served applies WithBug45988 to an item.
func (c *Camunda8) served(it Item) Item {
	if c.cfg.bug45988 && it.OperationType == "DELETE_DECISION_INSTANCE" {
		it.ProcessInstanceKey = "-1"
	}
	return it
}

func (c *Camunda8) settle(key string) {
	for _, m := range c.pending[key] {
		if _, ok := c.items[key][m.ItemKey]; ok {
			c.setItem(m)
		}
	}
	delete(c.pending, key)
}

// servedItems returns copies of all items, as served (the operations are
// operations()).
func (c *Camunda8) servedItems() []Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	var items []Item
	for _, m := range c.items {
		for _, it := range m {
			items = append(items, c.served(*it))
		}
	}
	return items
}
