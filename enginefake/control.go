package enginefake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"
)

// NewControl returns the fake-only JSON endpoint under /__fake/ through
// which a test in another process (the Node e2e tests) reads the request
// logs and changes the state of c8 and c7:
//
//	GET    /__fake/requests[?engine=camunda8|camunda7]  both logs, in order of arrival
//	DELETE /__fake/requests                             empty both logs
//	GET    /__fake/inflight                             {"camunda8":{current,max},"camunda7":{...}}
//	POST   /__fake/camunda8/operations                  Operation or [Operation] (API JSON)
//	POST   /__fake/camunda8/items                       [Item] (API JSON)
//	POST   /__fake/camunda8/create                      {"key","type","items":n}
//	POST   /__fake/camunda8/progress                    {"key","completed","failed"}
//	POST   /__fake/camunda8/finish                      {"key"}
//	POST   /__fake/camunda8/settle                      {"key"} (WithBug61727)
//	POST   /__fake/camunda8/expire-tokens
//	POST   /__fake/camunda7/batches                     Batch or [Batch] (statistics JSON)
//	POST   /__fake/camunda7/history                     HistoricBatch (API JSON)
//	POST   /__fake/camunda7/statistics                  {"id","jobsCreated","remainingJobs","failedJobs"}
//	POST   /__fake/camunda7/finish                      {"id","ttl":"168h"}
//	POST   /__fake/camunda7/delete-history              {"id"}
//	POST   /__fake/{camunda8|camunda7}/faults           Fault ("delay" as "250ms")
//	DELETE /__fake/{camunda8|camunda7}/faults           clear the faults
//
// A state change answers 200 with the changed record(s) or 204; bad input
// answers 400 {"error": "..."}.
func NewControl(c8 *Camunda8, c7 *Camunda7) http.Handler {
	mux := http.NewServeMux()
	engines := map[string]*base{"camunda8": &c8.base, "camunda7": &c7.base}
	mux.HandleFunc("GET /__fake/requests", func(w http.ResponseWriter, r *http.Request) {
		var log []Request
		for name, b := range engines {
			if e := r.URL.Query().Get("engine"); e == "" || e == name {
				log = append(log, b.Requests()...)
			}
		}
		sort.Slice(log, func(i, j int) bool { return log[i].Seq < log[j].Seq })
		writeJSON(w, http.StatusOK, append([]Request{}, log...))
	})
	mux.HandleFunc("DELETE /__fake/requests", func(w http.ResponseWriter, r *http.Request) {
		for _, b := range engines {
			b.ResetRequests()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /__fake/inflight", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]InFlight{"camunda8": c8.InFlight(), "camunda7": c7.InFlight()})
	})
	for name, b := range engines {
		mux.HandleFunc("POST /__fake/"+name+"/faults", func(w http.ResponseWriter, r *http.Request) {
			var f struct {
				Fault
				Delay string `json:"delay"`
			}
			if !decode(w, r, &f) {
				return
			}
			if f.Delay != "" {
				d, err := time.ParseDuration(f.Delay)
				if err != nil {
					controlError(w, fmt.Errorf("fault delay: %w", err))
					return
				}
				f.Fault.Delay = d
			}
			b.InjectFault(f.Fault)
			w.WriteHeader(http.StatusNoContent)
		})
		mux.HandleFunc("DELETE /__fake/"+name+"/faults", func(w http.ResponseWriter, r *http.Request) {
			b.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		})
	}
	controlCamunda8(mux, c8)
	controlCamunda7(mux, c7)
	return mux
}

func controlCamunda8(mux *http.ServeMux, c8 *Camunda8) {
	mux.HandleFunc("POST /__fake/camunda8/operations", func(w http.ResponseWriter, r *http.Request) {
		var ops []Operation
		if !decodeOneOrMany(w, r, &ops) {
			return
		}
		for _, op := range ops {
			if op.Key == "" {
				controlError(w, errors.New("an operation needs a batchOperationKey"))
				return
			}
		}
		for _, op := range ops {
			c8.PutOperation(op)
		}
		writeJSON(w, http.StatusOK, ops)
	})
	mux.HandleFunc("POST /__fake/camunda8/items", func(w http.ResponseWriter, r *http.Request) {
		var items []Item
		if !decodeOneOrMany(w, r, &items) {
			return
		}
		c8.PutItems(items...)
		writeJSON(w, http.StatusOK, items)
	})
	type keyed struct {
		Key       string `json:"key"`
		Type      string `json:"type"`
		Items     int    `json:"items"`
		Completed int    `json:"completed"`
		Failed    int    `json:"failed"`
	}
	mux.HandleFunc("POST /__fake/camunda8/create", func(w http.ResponseWriter, r *http.Request) {
		var k keyed
		if !decode(w, r, &k) {
			return
		}
		if k.Key == "" || k.Type == "" || k.Items < 0 {
			controlError(w, errors.New("create needs key, type and items >= 0"))
			return
		}
		writeJSON(w, http.StatusOK, c8.Create(k.Key, k.Type, k.Items))
	})
	for _, name := range []string{"progress", "finish", "settle"} {
		mux.HandleFunc("POST /__fake/camunda8/"+name, func(w http.ResponseWriter, r *http.Request) {
			var k keyed
			if !decode(w, r, &k) {
				return
			}
			var err error
			switch name {
			case "progress":
				err = c8.Progress(k.Key, k.Completed, k.Failed)
			case "finish":
				err = c8.Finish(k.Key)
			case "settle":
				c8.SettleItems(k.Key)
			}
			if err != nil {
				controlError(w, err)
				return
			}
			op, _ := c8.Operation(k.Key)
			writeJSON(w, http.StatusOK, op)
		})
	}
	mux.HandleFunc("POST /__fake/camunda8/expire-tokens", func(w http.ResponseWriter, r *http.Request) {
		c8.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	})
}

func controlCamunda7(mux *http.ServeMux, c7 *Camunda7) {
	mux.HandleFunc("POST /__fake/camunda7/batches", func(w http.ResponseWriter, r *http.Request) {
		var batches []Batch
		if !decodeOneOrMany(w, r, &batches) {
			return
		}
		for i := range batches {
			batches[i] = c7.AddBatch(batches[i])
		}
		writeJSON(w, http.StatusOK, batches)
	})
	mux.HandleFunc("POST /__fake/camunda7/history", func(w http.ResponseWriter, r *http.Request) {
		var h HistoricBatch
		if !decode(w, r, &h) {
			return
		}
		if h.ID == "" {
			controlError(w, errors.New("a historic batch needs an id"))
			return
		}
		c7.PutHistoricBatch(h)
		writeJSON(w, http.StatusOK, h)
	})
	type req struct {
		ID            string `json:"id"`
		JobsCreated   int    `json:"jobsCreated"`
		RemainingJobs int    `json:"remainingJobs"`
		FailedJobs    int    `json:"failedJobs"`
		TTL           string `json:"ttl"`
	}
	mux.HandleFunc("POST /__fake/camunda7/{action}", func(w http.ResponseWriter, r *http.Request) {
		var q req
		if !decode(w, r, &q) {
			return
		}
		var err error
		switch r.PathValue("action") {
		case "statistics":
			err = c7.SetStatistics(q.ID, q.JobsCreated, q.RemainingJobs, q.FailedJobs)
		case "finish":
			var ttl time.Duration
			if q.TTL != "" {
				if ttl, err = time.ParseDuration(q.TTL); err != nil {
					break
				}
			}
			err = c7.Finish(q.ID, ttl)
		case "delete-history":
			err = c7.DeleteHistory(q.ID)
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			controlError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func controlError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		controlError(w, fmt.Errorf("decoding %s: %w", r.URL.Path, err))
		return false
	}
	return true
}

// decodeOneOrMany reads a JSON object or an array of them into *[]T.
func decodeOneOrMany[T any](w http.ResponseWriter, r *http.Request, out *[]T) bool {
	var raw json.RawMessage
	if !decode(w, r, &raw) {
		return false
	}
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, out); err != nil {
			controlError(w, fmt.Errorf("decoding %s: %w", r.URL.Path, err))
			return false
		}
		return true
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		controlError(w, fmt.Errorf("decoding %s: %w", r.URL.Path, err))
		return false
	}
	*out = []T{one}
	return true
}
