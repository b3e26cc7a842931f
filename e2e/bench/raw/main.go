// Command raw is the ceiling of the performance harness (e2e/bench/run.sh):
// a minimal net/http server that answers the harness's Q2/Q3 (a page of an
// operation's items by state and order, with totalCount, cursors and page
// info) and Q6 (an item by its global id) straight from a batchql database
// with encoding/json, without GraphQL. It opens the file read-only, so it
// runs next to other read-only readers but not next to `batchql serve`.
//
//	raw --addr 127.0.0.1:8091 --db batchql.db
//
//	POST /items {"op": KEY, "state": "FAILED", "order": "PROCESSED_DATE_DESC", "first": 100, "after": CURSOR}
//	POST /node  {"id": GLOBAL_ID}
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/batchql/batchql/storage"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen `host:port`")
	db := flag.String("db", "batchql.db", "the batchql database `file` (opened read-only)")
	flag.Parse()
	store, err := storage.Open(*db, storage.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /items", items(store))
	mux.HandleFunc("POST /node", node(store))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "raw listening addr=%s db=%s\n", ln.Addr(), *db)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// item is a BatchOperationItem with every scalar of the GraphQL type.
type item struct {
	ID                     string  `json:"id"`
	BatchOperationKey      string  `json:"batchOperationKey"`
	ItemKey                string  `json:"itemKey"`
	OperationType          string  `json:"operationType"`
	ProcessInstanceKey     *string `json:"processInstanceKey"`
	RootProcessInstanceKey *string `json:"rootProcessInstanceKey"`
	State                  string  `json:"state"`
	ProcessedDate          *string `json:"processedDate"`
	ErrorMessage           *string `json:"errorMessage"`
}

func toItem(it *storage.BatchOperationItem) item {
	out := item{
		ID:                     itemID(it.BatchOperationKey, it.ItemKey),
		BatchOperationKey:      it.BatchOperationKey,
		ItemKey:                it.ItemKey,
		OperationType:          string(it.OperationType),
		ProcessInstanceKey:     it.ProcessInstanceKey,
		RootProcessInstanceKey: it.RootProcessInstanceKey,
		State:                  string(it.State),
		ErrorMessage:           it.ErrorMessage,
	}
	if it.ProcessedDate != nil {
		s := it.ProcessedDate.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		out.ProcessedDate = &s
	}
	return out
}

// The global id of an item, as batchql makes it: base64url (unpadded) of
// BatchOperationItem:<len(opKey)>:<opKey>:<itemKey>.
func itemID(op, it string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("BatchOperationItem:" + strconv.Itoa(len(op)) + ":" + op + ":" + it))
}

func parseItemID(id string) (op, it string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return "", "", false
	}
	rest, found := strings.CutPrefix(string(raw), "BatchOperationItem:")
	if !found {
		return "", "", false
	}
	digits, rest, found := strings.Cut(rest, ":")
	n, err := strconv.Atoi(digits)
	if !found || err != nil || n < 0 || n+1 > len(rest) || rest[n] != ':' {
		return "", "", false
	}
	return rest[:n], rest[n+1:], true
}

type itemsRequest struct {
	Op    string `json:"op"`
	State string `json:"state"`
	Order string `json:"order"`
	First int    `json:"first"`
	After string `json:"after"`
}

type edge struct {
	Cursor string `json:"cursor"`
	Node   item   `json:"node"`
}

type pageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

type itemsResponse struct {
	Data struct {
		TotalCount int      `json:"totalCount"`
		Edges      []edge   `json:"edges"`
		PageInfo   pageInfo `json:"pageInfo"`
	} `json:"data"`
}

func items(store *storage.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req itemsRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := storage.ItemQuery{Count: true, Page: storage.PageRequest{First: &req.First, After: req.After}}
		q.Filter.BatchOperationKey = &storage.StringFilter{Eq: &req.Op}
		if req.State != "" {
			st := storage.ItemState(req.State)
			q.Filter.State = &storage.ItemStateFilter{Eq: &st}
		}
		if req.Order != "" {
			field, desc := strings.CutSuffix(req.Order, "_DESC")
			field = strings.TrimSuffix(field, "_ASC")
			q.Order = []storage.Order{{Field: field, Desc: desc}}
		}
		p, err := store.Items(r.Context(), q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var resp itemsResponse
		resp.Data.TotalCount = p.TotalCount
		resp.Data.Edges = make([]edge, len(p.Edges))
		for i, e := range p.Edges {
			resp.Data.Edges[i] = edge{Cursor: e.Cursor(), Node: toItem(e.Node)}
		}
		resp.Data.PageInfo = pageInfo{HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage,
			StartCursor: p.StartCursor(), EndCursor: p.EndCursor()}
		writeJSON(w, &resp)
	}
}

func node(store *storage.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		op, key, ok := parseItemID(req.ID)
		if !ok {
			http.Error(w, "malformed id", http.StatusBadRequest)
			return
		}
		var it *storage.BatchOperationItem
		err := store.View(r.Context(), func(rd *storage.Reader) error {
			var err error
			it, err = rd.Item(op, key)
			return err
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var resp struct {
			Data struct {
				Node *item `json:"node"`
			} `json:"data"`
		}
		if it != nil {
			x := toItem(it)
			resp.Data.Node = &x
		}
		writeJSON(w, &resp)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
