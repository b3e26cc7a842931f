package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/storage"
)

// Subscribers of the same records share the work of their events
// (subscription.go delivers them). A commit seen by 1,000 subscribers of
// one operation used to cost 1,000 snapshots, 1,000 reads of the record
// and 1,000 executions of the same selection on it: in a CPU profile of
// BenchmarkSubscriptionFanOut (load 3.7) the subscribers' own snapshots
// took 0.84 s and gqlgen's execution of their selections 0.76 s of the
// 3.3 s spent delivering 75,000 events, ~44 µs an event besides the
// writer. Now:
//
//   - sharedRecords reads each changed record once per change, from one
//     snapshot for every subscriber that takes it (a record read from a
//     snapshot begun after the change's commit serves every subscriber
//     whose change is that commit or an earlier one);
//   - each such record keeps the response executed for each distinct
//     operation (document, operation name, variables, tenant scope: what
//     an execution depends on), so that subscribers with the same
//     selection and scope send the bytes executed once.
//
// Both are at or after the commit, as contract §10 asks: the record from a
// snapshot begun after it, nested fields executed later still.

// sharedGen bounds the records kept: when this many were read since the
// last turn, the older generation is dropped (the records of a commit are
// taken by all their subscribers within moments; a subscriber further
// behind reads its records again).
const sharedGen = 1024

// sharedRecords are the records read for subscribers, by key.
type sharedRecords struct {
	store *storage.Store
	hub   *changes.Hub

	// read is held for each read of missing records, from choosing the
	// snapshot to storing what it read: reads of one key are stored in
	// the order of their snapshots, so the record stored for a key is
	// always the newest read, and a subscriber never gets an older
	// state of a record after a newer one.
	read sync.Mutex

	mu       sync.Mutex
	cur, old map[storage.Key]*sharedRecord
}

// sharedRecord is one record as read from one snapshot. rec is shared by
// every subscriber and never modified.
type sharedRecord struct {
	seq uint64 // the snapshot shows every change up to this commit
	rec any    // *storage.Batch, *storage.BatchOperation or *storage.BatchOperationItem; nil: gone

	mu    sync.Mutex
	resps map[string]*sharedResponse // by operation (responseKey)
}

type sharedResponse struct {
	done chan struct{} // closed when data is set
	data []byte        // nil: the execution failed or had errors; each executes its own
}

func newSharedRecords(store *storage.Store, hub *changes.Hub) *sharedRecords {
	return &sharedRecords{store: store, hub: hub, cur: map[storage.Key]*sharedRecord{}}
}

// lookup returns the newest record read for k, or nil. Callers hold mu.
func (s *sharedRecords) lookup(k storage.Key) *sharedRecord {
	if r := s.cur[k]; r != nil {
		return r
	}
	return s.old[k]
}

// put stores r as the newest record read for k. Callers hold mu.
func (s *sharedRecords) put(k storage.Key, r *sharedRecord) {
	s.cur[k] = r
	if len(s.cur) >= sharedGen {
		s.old, s.cur = s.cur, make(map[storage.Key]*sharedRecord, sharedGen)
	}
}

// get appends to dst the records of cs, each from a snapshot at or after
// its change's commit: the stored one when it is, else one read now (for
// all such changes of cs from one snapshot). Tenant scope does not apply:
// callers check Batch records against theirs.
func (s *sharedRecords) get(cs []changes.Change, dst []*sharedRecord) ([]*sharedRecord, error) {
	start := len(dst)
	if out, ok := s.stored(cs, dst); ok {
		return out, nil
	}
	s.read.Lock()
	defer s.read.Unlock()
	out, ok := s.stored(cs, dst)
	if ok { // read meanwhile for another subscriber
		return out, nil
	}
	// Every change of cs had committed when it was taken, and every
	// commit up to Hub.Seq when that returned: a snapshot begun now shows
	// them all.
	seq := s.hub.Seq()
	var missing []int
	for i, c := range cs {
		seq = max(seq, c.Seq)
		if out[start+i] == nil {
			missing = append(missing, start+i)
		}
	}
	err := s.store.View(context.Background(), func(rd *storage.Reader) error { // unscoped
		for _, i := range missing {
			rec, err := readRecord(rd, cs[i-start].Key)
			if err != nil {
				return err
			}
			out[i] = &sharedRecord{seq: seq, rec: rec}
		}
		return nil
	})
	if err != nil {
		return dst, err
	}
	s.mu.Lock()
	for _, i := range missing {
		s.put(cs[i-start].Key, out[i])
	}
	s.mu.Unlock()
	return out, nil
}

// stored appends to dst the stored record of each change, nil where there
// is none recent enough, and reports whether none is nil.
func (s *sharedRecords) stored(cs []changes.Change, dst []*sharedRecord) ([]*sharedRecord, bool) {
	all := true
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		r := s.lookup(c.Key)
		if r != nil && r.seq < c.Seq {
			r = nil
		}
		all = all && r != nil
		dst = append(dst, r)
	}
	return dst, all
}

// readRecord reads the record k names; nil (untyped) when there is none.
func readRecord(rd *storage.Reader, k storage.Key) (any, error) {
	switch k.Kind {
	case storage.KindBatch:
		if b, err := rd.Batch(k.ID); b != nil || err != nil {
			return b, err
		}
	case storage.KindBatchOperation:
		if o, err := rd.BatchOperation(k.ID); o != nil || err != nil {
			return o, err
		}
	case storage.KindItem:
		if it, err := rd.Item(k.ID, k.Item); it != nil || err != nil {
			return it, err
		}
	}
	return nil, nil
}

// response returns the response of operation key to r: the one another
// subscriber with the same key executed, or exec's, which it keeps for
// the others when it has data and no errors (exec's Data is copied: gqlgen
// reuses its buffer). An empty key shares nothing. nil when ctx ends while
// waiting for another subscriber's execution.
func (r *sharedRecord) response(ctx context.Context, key string, exec func() *graphql.Response) *graphql.Response {
	if key == "" {
		return exec()
	}
	r.mu.Lock()
	f := r.resps[key]
	if f == nil {
		f = &sharedResponse{done: make(chan struct{})}
		if r.resps == nil {
			r.resps = map[string]*sharedResponse{}
		}
		r.resps[key] = f
		r.mu.Unlock()
		resp := exec()
		if resp != nil && resp.Data != nil && len(resp.Errors) == 0 && len(resp.Extensions) == 0 {
			f.data = bytes.Clone(resp.Data)
		}
		close(f.done)
		return resp
	}
	r.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil
	}
	if f.data == nil {
		return exec()
	}
	return &graphql.Response{Data: f.data}
}

// responseKey names what the response of a subscription's event depends on
// besides the record: the document, the operation, the variables and the
// tenant scope (the only caller state resolvers read). "" when the
// variables do not encode (nothing is shared then).
func responseKey(ctx context.Context) string {
	oc := graphql.GetOperationContext(ctx)
	vars, err := json.Marshal(oc.Variables) // map keys sorted
	if err != nil {
		return ""
	}
	h := sha256.New()
	field := func(s string) { // length-prefixed: fields cannot run into each other
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	field(oc.RawQuery)
	field(oc.OperationName)
	field(string(vars))
	if t := storage.TenantsOf(ctx); t != nil {
		field("tenants")
		for _, id := range t.IDs {
			field(id)
		}
	}
	return string(h.Sum(nil))
}
