//go:build e2e

package replication

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/batchql/batchql/enginefake"
	"github.com/stretchr/testify/require"
)

// engine is the Camunda 8 and Camunda 7 fake the syncing servers read,
// run in the test process and made to progress like a busy cluster. Every
// tick, each running Camunda 8 operation gets 10 more of its items
// processed (one of them FAILED, except in every third operation), a new
// operation of opItems items starts every 5th tick, and one Camunda 7
// batch's job counts move on, a new batch every 10th tick. The Camunda 7
// batches never end: a batch that ends between two polls keeps the last
// statistics the sync read (schema: Batch.statistics), so an ended batch's
// counts could differ from the engine's without anything being wrong.
type engine struct {
	c8         *enginefake.Camunda8
	c7         *enginefake.Camunda7
	url8, url7 string

	mu      sync.Mutex
	ops     []string // operation keys, in creation order
	batches []string // batch ids, in creation order
	ticks   int

	stop, done chan struct{}
}

const (
	firstOp  = 2251799813690001 // the first operation's key
	firstPIK = 2251799813700001 // the first item's key (process instance key)
	opItems  = 100
)

var opTypes = []string{"MIGRATE_PROCESS_INSTANCE", "CANCEL_PROCESS_INSTANCE", "RESOLVE_INCIDENT"}

// newEngine starts the fakes behind httptest servers with three
// operations and three batches that have made some progress.
func newEngine(t *testing.T) *engine {
	e := &engine{c8: enginefake.NewCamunda8(), c7: enginefake.NewCamunda7()}
	s8, s7 := httptest.NewServer(e.c8), httptest.NewServer(e.c7)
	t.Cleanup(s8.Close)
	t.Cleanup(s7.Close)
	e.url8, e.url7 = s8.URL+"/v2", s7.URL+"/engine-rest"
	for range 3 {
		e.Create()
		e.newBatch()
	}
	for range 3 {
		require.NoError(t, e.step())
	}
	return e
}

// Create starts a new Camunda 8 operation and returns its key.
func (e *engine) Create() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.create()
}

func (e *engine) create() string {
	key := strconv.Itoa(firstOp + len(e.ops))
	e.c8.Create(key, opTypes[len(e.ops)%len(opTypes)], opItems)
	e.ops = append(e.ops, key)
	return key
}

func (e *engine) newBatch() {
	typ, user := "instance-migration", "demo"
	if len(e.batches)%3 == 2 {
		typ = "instance-deletion"
	}
	b := e.c7.AddBatch(enginefake.Batch{Type: typ, TotalJobs: 20, RemainingJobs: 20, CreateUserID: &user})
	e.batches = append(e.batches, b.ID)
}

// step is one tick of progress.
func (e *engine) step() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ticks++
	for i, k := range e.ops {
		op, _ := e.c8.Operation(k)
		n := min(10, int(op.TotalCount-op.CompletedCount-op.FailedCount))
		if n == 0 {
			continue
		}
		failed := 1
		if i%3 == 0 {
			failed = 0
		}
		if err := e.c8.Progress(k, n-failed, failed); err != nil {
			return err
		}
	}
	if e.ticks%5 == 0 {
		e.create()
	}
	i := e.ticks % len(e.batches)
	b, _ := e.c7.Batch(e.batches[i])
	if b.RemainingJobs > 0 {
		remaining := b.RemainingJobs - 2
		failed := 0
		if i%2 == 0 && remaining > 0 {
			failed = 1
		}
		if err := e.c7.SetStatistics(b.ID, b.TotalJobs, remaining, failed); err != nil {
			return err
		}
	}
	if e.ticks%10 == 0 {
		e.newBatch()
	}
	return nil
}

// run makes the engine progress every period until Stop.
func (e *engine) run(t *testing.T, period time.Duration) {
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(e.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-tick.C:
			}
			if err := e.step(); err != nil {
				t.Errorf("engine: %v", err)
				return
			}
		}
	}()
}

// Stop ends the progress; the engine's state stays as it is.
func (e *engine) Stop() {
	close(e.stop)
	<-e.done
}

// counts says how much the engine holds.
func (e *engine) counts() (ops, items, batches int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ops), len(e.ops) * opItems, len(e.batches)
}

// readModel is what a server or the engine says of every record, keyed
// by engine key, for comparing the two.
type readModel struct {
	Ops     map[string]opView
	Batches map[string]batchView
}

type opView struct {
	Type, State                          string
	Total, Completed, Failed             int
	StartDate, EndDate                   string
	Items                                map[string]itemView // by item key
	ItemsTotal, ItemsFailed, ItemsActive int
}

type itemView struct{ State, PIK, ProcessedDate, Error string }

type batchView struct {
	Type                         string
	Remaining, Completed, Failed int
}

func c8Date(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// want is the engine's state as a readModel.
func (e *engine) want() readModel {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := readModel{Ops: map[string]opView{}, Batches: map[string]batchView{}}
	for _, k := range e.ops {
		op, _ := e.c8.Operation(k)
		v := opView{Type: op.Type, State: op.State, Total: int(op.TotalCount), Completed: int(op.CompletedCount), Failed: int(op.FailedCount),
			StartDate: c8Date(op.StartDate), EndDate: c8Date(op.EndDate), Items: map[string]itemView{}}
		for _, it := range e.c8.Items(k) {
			v.Items[it.ItemKey] = itemView{it.State, it.ProcessInstanceKey, c8Date(it.ProcessedDate), str(it.ErrorMessage)}
			v.count(it.State)
		}
		m.Ops[k] = v
	}
	for _, id := range e.batches {
		b, _ := e.c7.Batch(id)
		m.Batches[id] = batchView{b.Type, b.RemainingJobs, b.TotalJobs - b.RemainingJobs, b.FailedJobs}
	}
	return m
}

func (v *opView) count(state string) {
	v.ItemsTotal++
	switch state {
	case "FAILED":
		v.ItemsFailed++
	case "ACTIVE":
		v.ItemsActive++
	}
}

// qAll asks a server for everything, for comparing servers with each other
// and with the engine.
const qAll = `{ batchOperations(first: 1000) { totalCount nodes { id batchOperationKey batchOperationType state startDate endDate operationsTotalCount operationsCompletedCount operationsFailedCount items(first: 1000) { totalCount nodes { ` + itemFields + ` } } } } batches(first: 1000) { totalCount nodes { id batchId type statistics { remainingJobs completedJobs failedJobs } } } }`

// modelOf reads a qAll answer as a readModel.
func modelOf(body []byte) (readModel, error) {
	var r struct {
		Data struct {
			BatchOperations struct {
				Nodes []struct {
					Key                string `json:"batchOperationKey"`
					Type               string `json:"batchOperationType"`
					State              string
					StartDate, EndDate *string
					Total              int `json:"operationsTotalCount"`
					Completed          int `json:"operationsCompletedCount"`
					Failed             int `json:"operationsFailedCount"`
					Items              struct {
						TotalCount int
						Nodes      []struct {
							ItemKey, State, ProcessedDate string
							PIK                           *string `json:"processInstanceKey"`
							ErrorMessage                  *string
						}
					}
				}
			}
			Batches struct {
				Nodes []struct {
					BatchID, Type string
					Statistics    struct{ RemainingJobs, CompletedJobs, FailedJobs int }
				}
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return readModel{}, fmt.Errorf("read the answer: %w", err)
	}
	m := readModel{Ops: map[string]opView{}, Batches: map[string]batchView{}}
	for _, o := range r.Data.BatchOperations.Nodes {
		v := opView{Type: o.Type, State: o.State, Total: o.Total, Completed: o.Completed, Failed: o.Failed,
			StartDate: str(o.StartDate), EndDate: str(o.EndDate), Items: map[string]itemView{}}
		if len(o.Items.Nodes) != o.Items.TotalCount {
			return m, fmt.Errorf("operation %s: %d items of %d on the page", o.Key, len(o.Items.Nodes), o.Items.TotalCount)
		}
		for _, it := range o.Items.Nodes {
			v.Items[it.ItemKey] = itemView{it.State, str(it.PIK), it.ProcessedDate, str(it.ErrorMessage)}
			v.count(it.State)
		}
		m.Ops[o.Key] = v
	}
	for _, b := range r.Data.Batches.Nodes {
		m.Batches[b.BatchID] = batchView{b.Type, b.Statistics.RemainingJobs, b.Statistics.CompletedJobs, b.Statistics.FailedJobs}
	}
	return m, nil
}
