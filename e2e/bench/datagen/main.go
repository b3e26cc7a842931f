// Command datagen writes the demo data set (demo.Generate, the same
// records `batchql demo` writes for the same flags) in two other forms for
// the performance harness (e2e/bench/run.sh):
//
//   - data.ndjson: one record a line in the engines' JSON shapes, for
//     `batchql import` (Camunda 7 GET /batch/statistics or GET /batch records
//     for running batches, GET /history/batch records for finished ones;
//     Camunda 8 batch operation and batch operation item search records);
//   - batches.csv, batch_operations.csv, batch_operation_errors.csv,
//     batch_operation_items.csv: for PostgreSQL's COPY (FORMAT csv, NULL '\N');
//
// and params.json, the data-dependent inputs of the canonical queries: the
// largest operation, a process instance touched by several operations and a
// random sample of items.
//
//	go run ./e2e/bench/datagen --out DIR --batches N --operations N --items-per-operation N [--seed S]
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/storage"
)

// Params are the data-dependent inputs of the canonical queries.
type Params struct {
	Batches           int   `json:"batches"`
	Operations        int   `json:"operations"`
	Items             int   `json:"items"`
	ItemsPerOperation int   `json:"itemsPerOperation"`
	Seed              int64 `json:"seed"`

	// BiggestOperation is the key of the operation with the most items.
	BiggestOperation      string `json:"biggestOperation"`
	BiggestOperationItems int    `json:"biggestOperationItems"`
	BiggestOperationFails int    `json:"biggestOperationFailed"`
	// ProcessInstanceKey is touched by TouchedBy operations (the most of any
	// instance, at most 8, smallest key among equals).
	ProcessInstanceKey string `json:"processInstanceKey"`
	TouchedBy          int    `json:"touchedBy"`
	// SampleItems are random items (operation key, item key).
	SampleItems [][2]string `json:"sampleItems"`
}

func main() {
	def := demo.DefaultConfig()
	out := flag.String("out", "", "output `dir` (created)")
	batches := flag.Int("batches", def.Batches, "Camunda 7 batches")
	ops := flag.Int("operations", def.Operations, "Camunda 8 batch operations")
	per := flag.Int("items-per-operation", def.ItemsPerOperation, "mean items per operation")
	seed := flag.Int64("seed", def.Seed, "seed")
	sample := flag.Int("sample", 1000, "random items to sample for node(id:)")
	noNDJSON := flag.Bool("no-ndjson", false, "skip data.ndjson")
	noCSV := flag.Bool("no-csv", false, "skip the CSV files")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "datagen: --out is required")
		os.Exit(2)
	}
	cfg := demo.Config{Batches: *batches, Operations: *ops, ItemsPerOperation: *per, Seed: *seed}
	began := time.Now()
	p, err := generate(*out, cfg, *sample, !*noNDJSON, !*noCSV)
	if err != nil {
		fmt.Fprintf(os.Stderr, "datagen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("datagen: %d batches, %d operations, %d items in %s; biggest operation %s (%d items, %d failed); instance %s touched by %d operations\n",
		p.Batches, p.Operations, p.Items, time.Since(began).Round(time.Millisecond),
		p.BiggestOperation, p.BiggestOperationItems, p.BiggestOperationFails, p.ProcessInstanceKey, p.TouchedBy)
}

// sink is one buffered output file.
type sink struct {
	f *os.File
	w *bufio.Writer
}

func create(path string) (*sink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &sink{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (s *sink) close() error {
	if s == nil {
		return nil
	}
	return errors.Join(s.w.Flush(), s.f.Close())
}

func generate(dir string, cfg demo.Config, sampleN int, withNDJSON, withCSV bool) (*Params, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var nd *sink
	var err error
	if withNDJSON {
		if nd, err = create(filepath.Join(dir, "data.ndjson")); err != nil {
			return nil, err
		}
	}
	var csvs [4]*sink
	var cw [4]*csv.Writer
	if withCSV {
		for i, name := range []string{"batches", "batch_operations", "batch_operation_errors", "batch_operation_items"} {
			if csvs[i], err = create(filepath.Join(dir, name+".csv")); err != nil {
				return nil, err
			}
			cw[i] = csv.NewWriter(csvs[i].w)
		}
	}
	p := &Params{Batches: cfg.Batches, ItemsPerOperation: cfg.ItemsPerOperation, Seed: cfg.Seed}
	// Process instances and how many operations touched them. The demo's
	// keys are numbers; an operation touches an instance at most once.
	touched := map[int64]uint8{}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x73616d70))
	var (
		buf    []byte
		row    []string
		curOp  string
		curN   int
		curF   int
		seenIt int
	)
	endOp := func() {
		if curOp != "" && curN > p.BiggestOperationItems {
			p.BiggestOperation, p.BiggestOperationItems, p.BiggestOperationFails = curOp, curN, curF
		}
	}
	emit := func(rec any) error {
		switch r := rec.(type) {
		case *storage.Batch:
			if nd != nil {
				buf = appendBatch(buf[:0], r)
				if _, err := nd.w.Write(buf); err != nil {
					return err
				}
			}
			if withCSV {
				row = batchRow(row[:0], r)
				if err := cw[0].Write(row); err != nil {
					return err
				}
			}
		case *storage.BatchOperation:
			endOp()
			curOp, curN, curF = r.BatchOperationKey, 0, 0
			p.Operations++
			if nd != nil {
				buf = appendOperation(buf[:0], r)
				if _, err := nd.w.Write(buf); err != nil {
					return err
				}
			}
			if withCSV {
				row = operationRow(row[:0], r)
				if err := cw[1].Write(row); err != nil {
					return err
				}
				for _, e := range r.Errors {
					if err := cw[2].Write([]string{r.BatchOperationKey, strconv.Itoa(e.PartitionID), string(e.Type), e.Message}); err != nil {
						return err
					}
				}
			}
		case *storage.BatchOperationItem:
			curN++
			if r.State == "FAILED" {
				curF++
			}
			p.Items++
			if r.ProcessInstanceKey != nil {
				if k, err := strconv.ParseInt(*r.ProcessInstanceKey, 10, 64); err == nil {
					if n := touched[k]; n < 255 {
						touched[k] = n + 1
					}
				}
			}
			// reservoir sampling
			seenIt++
			if len(p.SampleItems) < sampleN {
				p.SampleItems = append(p.SampleItems, [2]string{r.BatchOperationKey, r.ItemKey})
			} else if j := rng.IntN(seenIt); j < sampleN {
				p.SampleItems[j] = [2]string{r.BatchOperationKey, r.ItemKey}
			}
			if nd != nil {
				buf = appendItem(buf[:0], r)
				if _, err := nd.w.Write(buf); err != nil {
					return err
				}
			}
			if withCSV {
				row = itemRow(row[:0], r)
				if err := cw[3].Write(row); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := demo.Generate(context.Background(), cfg, emit); err != nil {
		return nil, err
	}
	endOp()
	var errs []error
	for i := range csvs {
		if cw[i] != nil {
			cw[i].Flush()
			errs = append(errs, cw[i].Error())
		}
		errs = append(errs, csvs[i].close())
	}
	errs = append(errs, nd.close())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The instance touched by the most operations (capped at 8: "several").
	var best int64
	for k, n := range touched {
		c := min(int(n), 8)
		if c > p.TouchedBy || c == p.TouchedBy && k < best {
			best, p.TouchedBy = k, c
		}
	}
	p.ProcessInstanceKey = strconv.FormatInt(best, 10)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return p, os.WriteFile(filepath.Join(dir, "params.json"), append(b, '\n'), 0o644)
}

// ---------------------------------------------------------------- NDJSON

// jsonObj appends the members of one JSON object; first tells whether a
// comma is needed.
type jsonObj struct {
	b     []byte
	first bool
}

func (o *jsonObj) key(k string) {
	if o.first {
		o.first = false
	} else {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonObj) str(k, v string) { o.key(k); o.b = appendJSONString(o.b, v) }

func (o *jsonObj) optStr(k string, v *string) {
	o.key(k)
	if v == nil {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = appendJSONString(o.b, *v)
}

func (o *jsonObj) num(k string, v int) { o.key(k); o.b = strconv.AppendInt(o.b, int64(v), 10) }

func (o *jsonObj) optNum(k string, v *int) {
	o.key(k)
	if v == nil {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = strconv.AppendInt(o.b, int64(*v), 10)
}

func (o *jsonObj) boolean(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }

// Camunda 7 writes dates like 2024-05-14T09:12:03.417+0000, Camunda 8 in
// RFC 3339 with milliseconds.
const (
	c7Date = "2006-01-02T15:04:05.000-0700"
	c8Date = "2006-01-02T15:04:05.000Z07:00"
)

func (o *jsonObj) date(k string, v *time.Time, layout string) {
	o.key(k)
	if v == nil {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, '"')
	o.b = v.UTC().AppendFormat(o.b, layout)
	o.b = append(o.b, '"')
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendBatch writes a running batch as GET /batch/statistics does (or
// GET /batch when its statistics are unknown) and a finished one as
// GET /history/batch does.
func appendBatch(b []byte, r *storage.Batch) []byte {
	o := jsonObj{b: append(b, '{'), first: true}
	o.str("id", r.BatchID)
	o.str("type", r.Type)
	o.num("totalJobs", r.TotalJobs)
	historic := r.EndTime != nil
	if !historic {
		o.optNum("jobsCreated", r.JobsCreated)
	}
	o.optNum("batchJobsPerSeed", r.BatchJobsPerSeed)
	o.optNum("invocationsPerBatchJob", r.InvocationsPerBatchJob)
	o.optStr("seedJobDefinitionId", r.SeedJobDefinitionID)
	o.optStr("monitorJobDefinitionId", r.MonitorJobDefinitionID)
	o.optStr("batchJobDefinitionId", r.BatchJobDefinitionID)
	if !historic {
		o.boolean("suspended", r.Suspended)
	}
	o.optStr("tenantId", r.TenantID)
	o.optStr("createUserId", r.CreateUserID)
	o.date("startTime", r.StartTime, c7Date)
	o.date("executionStartTime", r.ExecutionStartTime, c7Date)
	if historic {
		o.date("endTime", r.EndTime, c7Date)
		o.date("removalTime", r.RemovalTime, c7Date)
	}
	if s := r.Statistics; s != nil {
		o.num("remainingJobs", s.RemainingJobs)
		o.num("completedJobs", s.CompletedJobs)
		o.num("failedJobs", s.FailedJobs)
	}
	return append(o.b, '}', '\n')
}

func appendOperation(b []byte, r *storage.BatchOperation) []byte {
	o := jsonObj{b: append(b, '{'), first: true}
	o.str("batchOperationKey", r.BatchOperationKey)
	o.str("state", string(r.State))
	o.str("batchOperationType", string(r.BatchOperationType))
	o.date("startDate", r.StartDate, c8Date)
	o.date("endDate", r.EndDate, c8Date)
	o.key("actorType")
	if r.ActorType == nil {
		o.b = append(o.b, "null"...)
	} else {
		o.b = appendJSONString(o.b, string(*r.ActorType))
	}
	o.optStr("actorId", r.ActorID)
	o.num("operationsTotalCount", r.OperationsTotalCount)
	o.num("operationsFailedCount", r.OperationsFailedCount)
	o.num("operationsCompletedCount", r.OperationsCompletedCount)
	o.key("errors")
	o.b = append(o.b, '[')
	for i, e := range r.Errors {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		eo := jsonObj{b: append(o.b, '{'), first: true}
		eo.num("partitionId", e.PartitionID)
		eo.str("type", string(e.Type))
		eo.str("message", e.Message)
		o.b = append(eo.b, '}')
	}
	o.b = append(o.b, ']')
	return append(o.b, '}', '\n')
}

func appendItem(b []byte, r *storage.BatchOperationItem) []byte {
	o := jsonObj{b: append(b, '{'), first: true}
	o.str("batchOperationKey", r.BatchOperationKey)
	o.str("itemKey", r.ItemKey)
	o.optStr("processInstanceKey", r.ProcessInstanceKey)
	o.optStr("rootProcessInstanceKey", r.RootProcessInstanceKey)
	o.str("state", string(r.State))
	o.date("processedDate", r.ProcessedDate, c8Date)
	o.optStr("errorMessage", r.ErrorMessage)
	o.str("operationType", string(r.OperationType))
	return append(o.b, '}', '\n')
}

// ---------------------------------------------------------------- CSV

const null = `\N`

func optStr(v *string) string {
	if v == nil {
		return null
	}
	return *v
}

func optInt(v *int) string {
	if v == nil {
		return null
	}
	return strconv.Itoa(*v)
}

func optTime(v *time.Time) string {
	if v == nil {
		return null
	}
	return v.UTC().Format(c8Date)
}

func batchRow(row []string, r *storage.Batch) []string {
	rem, comp, fail := null, null, null
	if s := r.Statistics; s != nil {
		rem, comp, fail = strconv.Itoa(s.RemainingJobs), strconv.Itoa(s.CompletedJobs), strconv.Itoa(s.FailedJobs)
	}
	return append(row, r.BatchID, r.Type, strconv.Itoa(r.TotalJobs), optInt(r.JobsCreated),
		optInt(r.BatchJobsPerSeed), optInt(r.InvocationsPerBatchJob), optStr(r.SeedJobDefinitionID),
		optStr(r.MonitorJobDefinitionID), optStr(r.BatchJobDefinitionID), strconv.FormatBool(r.Suspended),
		optStr(r.TenantID), optStr(r.CreateUserID), optTime(r.StartTime), optTime(r.ExecutionStartTime),
		optTime(r.EndTime), optTime(r.RemovalTime), rem, comp, fail)
}

func operationRow(row []string, r *storage.BatchOperation) []string {
	actor := null
	if r.ActorType != nil {
		actor = string(*r.ActorType)
	}
	return append(row, r.BatchOperationKey, string(r.BatchOperationType), string(r.State),
		optTime(r.StartDate), optTime(r.EndDate), actor, optStr(r.ActorID),
		strconv.Itoa(r.OperationsTotalCount), strconv.Itoa(r.OperationsFailedCount),
		strconv.Itoa(r.OperationsCompletedCount))
}

func itemRow(row []string, r *storage.BatchOperationItem) []string {
	return append(row, r.BatchOperationKey, r.ItemKey, string(r.OperationType),
		optStr(r.ProcessInstanceKey), optStr(r.RootProcessInstanceKey), string(r.State),
		optTime(r.ProcessedDate), optStr(r.ErrorMessage))
}
