package graph

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/storage"
)

// sharedEnv is a store with a hub and its shared records, and a
// subscriber of every item change, whose changes carry the commits' seqs.
func sharedEnv(t *testing.T) (*storage.Store, *sharedRecords, func(n int) []changes.Change) {
	t.Helper()
	store, err := storage.Open(filepath.Join(t.TempDir(), "s.db"), storage.Options{NoSync: true, InitialMmapSize: 1 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	hub := changes.New(store, changes.Options{})
	t.Cleanup(hub.Close)
	sub, err := hub.Subscribe(storage.KindItem, "test", changes.Filter{})
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	take := func(n int) []changes.Change {
		var cs []changes.Change
		for len(cs) < n {
			cs, err = sub.Changes(nil, cs, n-len(cs))
			require.NoError(t, err)
		}
		return cs
	}
	return store, newSharedRecords(store, hub), take
}

// A change is read once for everyone who takes it; a later change of the
// record is read again, from a newer snapshot; records are read without a
// tenant scope.
func TestSharedRecordsReadEachChangeOnce(t *testing.T) {
	store, shared, take := sharedEnv(t)
	putItems(t, store, mkItem("7", "1", "ACTIVE"), mkItem("7", "2", "ACTIVE"))
	cs := take(2)

	first, err := shared.get(cs, nil)
	require.NoError(t, err)
	require.Len(t, first, 2)
	again, err := shared.get(cs, nil)
	require.NoError(t, err)
	assert.Same(t, first[0], again[0], "the same change: the record read before")
	assert.Same(t, first[1], again[1])
	assert.Equal(t, storage.ItemState("ACTIVE"), first[0].rec.(*storage.BatchOperationItem).State)

	putItems(t, store, mkItem("7", "1", "COMPLETED"))
	newer := take(1)
	require.Greater(t, newer[0].Seq, first[0].seq, "a commit after the read")
	got, err := shared.get([]changes.Change{newer[0], cs[1]}, nil)
	require.NoError(t, err)
	assert.NotSame(t, first[0], got[0], "a newer change: read again")
	assert.Equal(t, storage.ItemState("COMPLETED"), got[0].rec.(*storage.BatchOperationItem).State)
	assert.Same(t, first[1], got[1], "the other record's change is older than its read")
	old, err := shared.get(cs[:1], nil)
	require.NoError(t, err)
	assert.Same(t, got[0], old[0], "an older change gets the newest read, never an older one")

	// Unscoped: a batch of any tenant is read (the subscriber checks its
	// scope), and a record that is gone reads as nil.
	require.NoError(t, store.Update(context.Background(), func(w *storage.Writer) error {
		_, err := w.PutBatch(&storage.Batch{BatchID: "b1", Type: "t", TenantID: ptr("B")})
		return err
	}))
	recs, err := shared.get([]changes.Change{
		{Key: storage.Key{Kind: storage.KindBatch, ID: "b1"}},
		{Key: storage.Key{Kind: storage.KindItem, ID: "7", Item: "nope"}},
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, "b1", recs[0].rec.(*storage.Batch).BatchID)
	assert.Nil(t, recs[1].rec)
}

// The generations bound what is kept; the newest read of a key survives a
// turn.
func TestSharedRecordsBounded(t *testing.T) {
	_, shared, _ := sharedEnv(t)
	key := func(i int) storage.Key { return storage.Key{Kind: storage.KindItem, ID: "7", Item: fmt.Sprint(i)} }
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for i := range 3 * sharedGen {
		shared.put(key(i), &sharedRecord{seq: uint64(i)})
		assert.LessOrEqual(t, len(shared.cur)+len(shared.old), 2*sharedGen)
	}
	last := key(3*sharedGen - 1)
	require.NotNil(t, shared.lookup(last))
	assert.Equal(t, uint64(3*sharedGen-1), shared.lookup(last).seq)
	assert.Nil(t, shared.lookup(key(0)), "dropped with its generation")
}

// Subscribers with the same operation key share one execution; one that
// fails or has errors is not shared; other keys execute their own.
func TestSharedResponses(t *testing.T) {
	ctx := context.Background()
	var r sharedRecord
	var runs atomic.Int32
	release := make(chan struct{})
	buf := []byte(`{"x":1}`)
	exec := func() *graphql.Response {
		runs.Add(1)
		<-release
		return &graphql.Response{Data: buf}
	}
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Go(func() { got[i] = string(r.response(ctx, "k", exec).Data) })
	}
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	assert.Equal(t, int32(1), runs.Load(), "one execution for ten subscribers")
	for _, g := range got {
		assert.Equal(t, `{"x":1}`, g)
	}
	copy(buf, `{"y":2}`) // gqlgen reuses its buffer for the next event
	assert.Equal(t, `{"x":1}`, string(r.response(ctx, "k", exec).Data), "a copy is kept")

	runs.Store(0)
	failing := func() *graphql.Response {
		runs.Add(1)
		return &graphql.Response{Data: []byte(`{"x":null}`), Errors: gqlerror.List{{Message: "boom"}}}
	}
	for range 3 {
		assert.Len(t, r.response(ctx, "errors", failing).Errors, 1)
	}
	assert.Equal(t, int32(3), runs.Load(), "responses with errors are not shared")
	assert.Equal(t, `{"x":1}`, string(r.response(ctx, "k", failing).Data), "keys do not mix")
	assert.Equal(t, int32(3), runs.Load())
	assert.Len(t, r.response(ctx, "", failing).Errors, 1, "an empty key shares nothing")

	// A subscriber waiting for another's execution stops with its context.
	block := make(chan struct{})
	go r.response(ctx, "slow", func() *graphql.Response { <-block; return nil })
	for {
		r.mu.Lock()
		_, ok := r.resps["slow"]
		r.mu.Unlock()
		if ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.Nil(t, r.response(cctx, "slow", failing))
	close(block)
}

// The response key covers what an execution depends on.
func TestResponseKey(t *testing.T) {
	key := func(query, name string, vars map[string]any, tenants []string) string {
		ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{RawQuery: query, OperationName: name, Variables: vars})
		if tenants != nil {
			ctx = storage.WithTenants(ctx, tenants)
		}
		return responseKey(ctx)
	}
	base := key("subscription { x }", "", map[string]any{"a": 1, "b": "2"}, nil)
	assert.NotEmpty(t, base)
	assert.Equal(t, base, key("subscription { x }", "", map[string]any{"b": "2", "a": 1}, nil))
	for name, other := range map[string]string{
		"document":   key("subscription { y }", "", map[string]any{"a": 1, "b": "2"}, nil),
		"operation":  key("subscription { x }", "X", map[string]any{"a": 1, "b": "2"}, nil),
		"variables":  key("subscription { x }", "", map[string]any{"a": 2, "b": "2"}, nil),
		"tenants":    key("subscription { x }", "", map[string]any{"a": 1, "b": "2"}, []string{"A"}),
		"no tenants": key("subscription { x }", "", map[string]any{"a": 1, "b": "2"}, []string{}),
	} {
		assert.NotEqual(t, base, other, name)
	}
	assert.NotEqual(t, key("q", "", nil, []string{"A", "B"}), key("q", "", nil, []string{"AB"}))
	assert.NotEqual(t, key("a\x00", "b", nil, nil), key("a", "\x00b", nil, nil), "fields are delimited")
	assert.Empty(t, key("q", "", map[string]any{"f": func() {}}, nil), "unencodable variables share nothing")
}
