package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestKeyEncodingOrder(t *testing.T) {
	// Ascending by the contract: numbers as numbers (a non-canonical form
	// right after its canonical twin), then other keys bytewise, then null.
	keys := []string{"-9223372036854775808", "-12", "-1", "0", "7", "007", "8", "10", "2251799813685249",
		"9223372036854775807", "3f0c8a52-1b2d", "9223372036854775808", "a", "a\x00", "a\x00b", "ab", "b"}
	var enc [][]byte
	for _, k := range keys {
		enc = append(enc, appendKey(nil, k))
	}
	enc = append(enc, appendOptKey(nil, nil))
	for i := 1; i < len(enc); i++ {
		assert.Negative(t, bytes.Compare(enc[i-1], enc[i]), "%q before %q", keys[i-1], append(keys, "null")[i])
	}
	for _, k := range keys {
		got, rest, err := readKey(appendKey(nil, k))
		require.NoError(t, err)
		assert.Equal(t, k, got)
		assert.Empty(t, rest)
	}
}

func TestComponentsAreSelfDelimitingAndInvertible(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	comps := [][]byte{
		appendKey(nil, "42"), appendKey(nil, "042"), appendKey(nil, "uuid-x"), appendStr(nil, "a\x00b"),
		appendTime(nil, t0), appendInt(nil, -3), appendBool(nil, true), appendOptStr(nil, nil),
	}
	for _, c := range comps {
		n, err := skipComponent(append(slices.Clone(c), 0xAA, 0xBB))
		require.NoError(t, err)
		assert.Equal(t, len(c), n)
	}
	a, b := appendTime(nil, t0), appendTime(nil, t0.Add(time.Nanosecond))
	assert.Negative(t, bytes.Compare(a, b))
	assert.Positive(t, bytes.Compare(invert(nil, a), invert(nil, b)), "inverted order is reversed")
	_, err := skipComponent([]byte{tagStr, 'a'})
	assert.Error(t, err, "unterminated string")
}

func TestLike(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"abc", "abc", true}, {"abc", "abcd", false}, {"a*", "a", true}, {"a*c", "abbbc", true},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*", "", true}, {"?", "", false},
		{`a\*`, "a*", true}, {`a\*`, "ab", false}, {`a\?`, "a?", true}, {`\\`, `\`, true},
		{"*b*b*", "abab", true}, {"é?", "éx", true}, {"?", "é", true}, {"**a", "ba", true},
		{"*aaa*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	}
	for _, c := range cases {
		p, err := compileLike(c.pat)
		require.NoError(t, err, c.pat)
		assert.Equal(t, c.want, p.match(c.s), "%q like %q", c.s, c.pat)
	}
	_, err := compileLike(`abc\`)
	assert.Error(t, err)
}

func TestCodecRoundTrip(t *testing.T) {
	d := randomData(9, 50, 50, 200)
	for _, b := range d.batches {
		got, err := decodeBatch(encodeBatch(b))
		require.NoError(t, err)
		assert.Equal(t, normBatch(b), got)
	}
	for _, o := range d.ops {
		v, err := encodeOperation(o)
		require.NoError(t, err)
		got, err := decodeOperation(v)
		require.NoError(t, err)
		want := *o
		if want.Errors == nil {
			want.Errors = []BatchOperationError{}
		}
		assert.Equal(t, &want, got)
	}
	for _, it := range d.items {
		v, err := encodeItem(it)
		require.NoError(t, err)
		got, err := decodeItem(itemKind.pk(nil, it), v)
		require.NoError(t, err)
		assert.Equal(t, it, got)
	}
	_, err := decodeBatch([]byte{valueVersion, 5, 'a'})
	assert.Error(t, err, "truncated value")
	_, err = encodeOperation(&BatchOperation{BatchOperationKey: "1", BatchOperationType: "NOPE", State: "ACTIVE"})
	assert.ErrorContains(t, err, "NOPE")
}

func normBatch(b *Batch) *Batch { c := *b; return &c }

func TestCursorErrors(t *testing.T) {
	d := randomData(4, 20, 20, 100)
	s := openTemp(t)
	d.load(t, s)
	ctx := context.Background()
	page, err := s.BatchOperations(ctx, BatchOperationQuery{Order: []Order{{Field: "STATE"}}, Page: PageRequest{First: ip(3)}})
	require.NoError(t, err)
	cur := *page.EndCursor()
	raw, err := base64.RawURLEncoding.DecodeString(cur)
	require.NoError(t, err)
	cases := map[string]struct {
		run    func() error
		arg    string
		reason string
	}{
		"other order": {func() error {
			_, err := s.BatchOperations(ctx, BatchOperationQuery{Order: []Order{{Field: "STATE", Desc: true}}, Page: PageRequest{After: cur}})
			return err
		}, "after", "another orderBy"},
		"other connection": {func() error {
			_, err := s.Items(ctx, ItemQuery{Order: []Order{{Field: "STATE"}}, Page: PageRequest{Before: cur}})
			return err
		}, "before", "another connection"},
		"not base64": {func() error {
			_, err := s.BatchOperations(ctx, BatchOperationQuery{Page: PageRequest{After: "!!!"}})
			return err
		}, "after", "not a cursor"},
		"truncated": {func() error {
			c := base64.RawURLEncoding.EncodeToString(raw[:len(raw)-3])
			_, err := s.BatchOperations(ctx, BatchOperationQuery{Order: []Order{{Field: "STATE"}}, Page: PageRequest{After: c}})
			return err
		}, "after", "damaged"},
		"trailing bytes": {func() error {
			c := base64.RawURLEncoding.EncodeToString(append(slices.Clone(raw), 1))
			_, err := s.BatchOperations(ctx, BatchOperationQuery{Order: []Order{{Field: "STATE"}}, Page: PageRequest{After: c}})
			return err
		}, "after", "damaged"},
		"unknown order field": {func() error {
			_, err := s.BatchOperations(ctx, BatchOperationQuery{Order: []Order{{Field: "NOPE"}}})
			return err
		}, "orderBy", "unknown order field"},
		"negative first": {func() error {
			_, err := s.Batches(ctx, BatchQuery{Page: PageRequest{First: ip(-1)}})
			return err
		}, "first", "negative"},
		"first and last": {func() error {
			_, err := s.Batches(ctx, BatchQuery{Page: PageRequest{First: ip(1), Last: ip(1)}})
			return err
		}, "first", "together"},
		"last over max": {func() error {
			_, err := s.Batches(ctx, BatchQuery{Page: PageRequest{Last: ip(11), Max: 10}})
			return err
		}, "last", `argument "last" (value 11): must be at most 10`},
		"bad like": {func() error {
			_, err := s.Batches(ctx, BatchQuery{Filter: BatchFilter{Type: &StringFilter{Like: sp(`x\`)}}})
			return err
		}, "filter.type.like", "escaped"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.run()
			var ie *InputError
			require.True(t, errors.As(err, &ie), "want *InputError, got %v", err)
			assert.Equal(t, c.arg, ie.Arg)
			assert.Contains(t, ie.Error(), c.reason)
		})
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	start := time.Now()
	_, err = Open(path, Options{Timeout: 100 * time.Millisecond})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), path)
	assert.Less(t, time.Since(start), 5*time.Second, "must not hang")
}

// Updates move records between index entries and counters; afterwards
// every index holds exactly the entries of the stored records and every
// counter equals a recount.
func TestUpsertKeepsIndexesAndCounters(t *testing.T) {
	d := randomData(5, 100, 60, 800)
	s := openTemp(t)
	d.load(t, s)
	rng := rand.New(rand.NewPCG(5, 5))
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(w *Writer) error {
		for range 400 {
			it := *d.items[rng.IntN(len(d.items))]
			it.State = ItemStates[rng.IntN(len(ItemStates))]
			if rng.IntN(2) == 0 {
				it.ProcessedDate = nil
			}
			if created, err := w.PutItem(&it); err != nil || created {
				return errors.Join(err, errors.New("update reported as new"))
			}
		}
		for range 50 {
			o := *d.ops[rng.IntN(len(d.ops))]
			o.State = OperationStates[rng.IntN(len(OperationStates))]
			if _, err := w.PutBatchOperation(&o); err != nil {
				return err
			}
			b := *d.batches[rng.IntN(len(d.batches))]
			b.Type = "changed-type"
			if _, err := w.PutBatch(&b); err != nil {
				return err
			}
		}
		return nil
	}))
	checkConsistent(t, s)
}

// checkConsistent requires that every index and counter equal a rebuild
// from the records (Store.Verify, whose own tests corrupt a database).
func checkConsistent(t *testing.T, s *Store) {
	t.Helper()
	require.NoError(t, s.Verify(context.Background()))
}

func TestPlans(t *testing.T) {
	d := randomData(6, 50, 50, 500)
	s := openTemp(t)
	d.load(t, s)
	st := func(v OperationState) *OperationState { return &v }
	is := func(v ItemState) *ItemState { return &v }
	key := "x"
	cases := []struct {
		name    string
		plan    func(tx *bolt.Tx) (ix string, ordered bool, residual int)
		ix      string
		ordered bool
	}{
		{"Q1 state in, START_DATE DESC: merged ranges of (state,start)", func(tx *bolt.Tx) (string, bool, int) {
			ts, _ := operationTerms(&BatchOperationFilter{State: &OperationStateFilter{In: []OperationState{"ACTIVE", "SUSPENDED"}}})
			p := choosePlan(&Reader{tx: tx}, operationKind, ts, condsOf(map[string]*cond{}, ts), []Order{{Field: "START_DATE", Desc: true}}, 50)
			return p.ix.name, p.ordered, len(p.residual)
		}, "[STATE START_DATE]", true},
		{"Q2 op+state, PROCESSED_DATE DESC", func(tx *bolt.Tx) (string, bool, int) {
			ts, _ := itemTerms(&BatchOperationItemFilter{BatchOperationKey: &StringFilter{Eq: &key}, State: &ItemStateFilter{Eq: is("FAILED")}})
			p := choosePlan(&Reader{tx: tx}, itemKind, ts, condsOf(map[string]*cond{}, ts), []Order{{Field: "PROCESSED_DATE", Desc: true}}, 100)
			return p.ix.name, p.ordered, len(p.residual)
		}, "[BATCH_OPERATION_KEY STATE PROCESSED_DATE]", true},
		{"Q4 processInstanceKey eq", func(tx *bolt.Tx) (string, bool, int) {
			ts, _ := itemTerms(&BatchOperationItemFilter{ProcessInstanceKey: &StringFilter{Eq: &key}})
			p := choosePlan(&Reader{tx: tx}, itemKind, ts, condsOf(map[string]*cond{}, ts), nil, 20)
			return p.ix.name, p.ordered, len(p.residual)
		}, "[PROCESS_INSTANCE_KEY]", true},
		{"items of one op, default order: primary range", func(tx *bolt.Tx) (string, bool, int) {
			ts, _ := itemTerms(&BatchOperationItemFilter{BatchOperationKey: &StringFilter{Eq: &key}})
			p := choosePlan(&Reader{tx: tx}, itemKind, ts, condsOf(map[string]*cond{}, ts), nil, 20)
			return p.ix.name, p.ordered, len(p.residual)
		}, "primary", true},
		{"items of one op by PROCESSED_DATE: (op,state,date) merged over every state", func(tx *bolt.Tx) (string, bool, int) {
			ts, _ := itemTerms(&BatchOperationItemFilter{BatchOperationKey: &StringFilter{Eq: &key}})
			p := choosePlan(&Reader{tx: tx}, itemKind, ts, condsOf(map[string]*cond{}, ts), []Order{{Field: "PROCESSED_DATE", Desc: true}}, 20)
			return p.ix.name, p.ordered && len(p.prefixes) == len(ItemStates), len(p.residual)
		}, "[BATCH_OPERATION_KEY STATE PROCESSED_DATE]", true},
		{"op state eq, default order", func(tx *bolt.Tx) (string, bool, int) {
			ts, _ := operationTerms(&BatchOperationFilter{State: &OperationStateFilter{Eq: st("ACTIVE")}})
			p := choosePlan(&Reader{tx: tx}, operationKind, ts, condsOf(map[string]*cond{}, ts), nil, 20)
			return p.ix.name, p.ordered, len(p.residual)
		}, "[STATE]", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, s.View(context.Background(), func(r *Reader) error {
				ix, ordered, residual := c.plan(r.tx)
				assert.Equal(t, c.ix, ix)
				assert.Equal(t, c.ordered, ordered)
				assert.Zero(t, residual)
				return nil
			}))
		})
	}
	// Q5: type eq + failedJobs > 0 (withFailures) by START_TIME DESC: the
	// (failing, type, start) index answers it alone.
	require.NoError(t, s.View(context.Background(), func(r *Reader) error {
		ts, _ := batchTerms(&BatchFilter{Type: &StringFilter{Eq: sp("instance-migration")}, FailedJobs: &IntFilter{Gt: ip(0)}})
		p := choosePlan(r, batchKind, ts, condsOf(map[string]*cond{}, ts), []Order{{Field: "START_TIME", Desc: true}}, 50)
		assert.Equal(t, "[FAILING TYPE START_TIME]", p.ix.name)
		assert.True(t, p.ordered)
		assert.Empty(t, p.residual)
		return nil
	}))
}

func TestCountsFromCountersMatchScans(t *testing.T) {
	d := randomData(7, 0, 30, 1500)
	s := openTemp(t)
	d.load(t, s)
	op := d.items[0].BatchOperationKey
	is := func(v ItemState) *ItemState { return &v }
	filters := []BatchOperationItemFilter{
		{},
		{State: &ItemStateFilter{In: []ItemState{"FAILED", "ACTIVE"}}},
		{BatchOperationKey: &StringFilter{Eq: &op}},
		{BatchOperationKey: &StringFilter{Eq: &op}, State: &ItemStateFilter{Eq: is("FAILED")}},
		{BatchOperationKey: &StringFilter{In: []string{op, d.items[1].BatchOperationKey}}, State: &ItemStateFilter{In: []ItemState{"FAILED", "SKIPPED"}}},
	}
	for i, f := range filters {
		want := 0
		for _, it := range d.items {
			if refItemMatch(&f, it) {
				want++
			}
		}
		require.NoError(t, s.View(context.Background(), func(r *Reader) error {
			ts, err := itemTerms(&f)
			require.NoError(t, err)
			n, ok := countFromCounters(r, itemKind, ts, condsOf(map[string]*cond{}, ts))
			assert.True(t, ok, "filter %d is answered from counters", i)
			assert.Equal(t, want, n, "filter %d", i)
			return nil
		}))
	}
}

// A file written by an older batchql — an index missing, another the
// schema dropped — is upgraded in place when opened.
func TestOpenUpgradesIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path, Options{})
	require.NoError(t, err)
	randomData(12, 80, 40, 300).load(t, s)
	missing := batchKind.indexes[len(batchKind.indexes)-1].bucket
	stale := []byte("ix items [BATCH_OPERATION_KEY PROCESSED_DATE]")
	require.NoError(t, s.DB().Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(missing); err != nil {
			return err
		}
		b, err := tx.CreateBucket(stale)
		if err != nil {
			return err
		}
		return b.Put([]byte("old entry"), nil)
	}))
	require.NoError(t, s.Close())

	s, err = Open(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Verify(context.Background()), "the missing index was rebuilt")
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		assert.NotNil(t, tx.Bucket(missing))
		assert.Nil(t, tx.Bucket(stale), "the dropped index's bucket is gone")
		return nil
	}))
}
