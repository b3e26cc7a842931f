package storage

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// tenantCountFilters are filters whose count under a tenant scope the
// counters answer: the scope alone (TENANT_ID), with tenantId filters
// (merged into it), and with type equalities ((TENANT_ID, TYPE)).
var tenantCountFilters = map[string]BatchFilter{
	"none":               {},
	"tenant eq b":        {TenantID: &StringFilter{Eq: sp("tenant-b")}},
	"tenant in a,C":      {TenantID: &StringFilter{In: []string{"tenant-a", "Tenant_C"}}},
	"tenant null":        {TenantID: &StringFilter{Exists: new(false)}},
	"type eq":            {Type: &StringFilter{Eq: sp("instance-migration")}},
	"type in":            {Type: &StringFilter{In: []string{"instance-deletion", "custom*type", "changed-type"}}},
	"type eq, tenant eq": {Type: &StringFilter{Eq: sp("set-job-retries")}, TenantID: &StringFilter{Eq: sp("tenant-a")}},
	"type in, tenant in": {Type: &StringFilter{In: []string{"instance-migration", "changed-type"}}, TenantID: &StringFilter{In: []string{"tenant-b", "tenant-a", "tenant-z"}}},
}

// checkTenantCounts requires, for every scope and filter of
// tenantCountFilters, that the counters answer the count and that it, and
// the totalCount of the connection, equal the reference filter's count.
func checkTenantCounts(t *testing.T, s *Store, batches []*Batch) {
	t.Helper()
	for scope, tenants := range tenantScopes {
		for name, f := range tenantCountFilters {
			want := refCount(tenants, &f, batches)
			ctx := WithTenants(context.Background(), tenants)
			require.NoError(t, s.View(ctx, func(r *Reader) error {
				ts, err := batchTerms(&f)
				require.NoError(t, err)
				ts = append(ts, tenantTerm(r.tenants))
				conds := condsOf(map[string]*cond{}, ts)
				if matchesNothing(conds) {
					assert.Zero(t, want, "scope %s, filter %s", scope, name)
					return nil
				}
				n, ok := countFromCounters(r, batchKind, ts, conds)
				assert.True(t, ok, "scope %s, filter %s: answered from counters", scope, name)
				assert.Equal(t, want, n, "scope %s, filter %s: counters", scope, name)
				return nil
			}))
			first := 0
			p, err := s.Batches(ctx, BatchQuery{Filter: f, Page: PageRequest{First: &first}, Count: true})
			require.NoError(t, err)
			assert.Equal(t, want, p.TotalCount, "scope %s, filter %s: totalCount", scope, name)
		}
	}
}

// Tenant-scoped counts come from the (TENANT_ID) and (TENANT_ID, TYPE)
// counters and equal the reference, also after updates that move batches
// to another tenant (or none) and another type, which move their counts.
func TestTenantCountsFromCounters(t *testing.T) {
	d := randomData(31, 400, 0, 0)
	s := openTemp(t)
	d.load(t, s)
	checkTenantCounts(t, s, d.batches)

	tenants := []*string{nil, sp("tenant-a"), sp("tenant-b"), sp("Tenant_C"), sp("tenant-new")}
	types := []string{"instance-migration", "changed-type", "set-job-retries"}
	require.NoError(t, s.Update(context.Background(), func(w *Writer) error {
		for i := 0; i < len(d.batches); i += 3 {
			b := *d.batches[i]
			switch i % 4 {
			case 0: // tenant only
				b.TenantID = tenants[i%len(tenants)]
			case 1: // type only
				b.Type = types[i%len(types)]
			default: // both
				b.TenantID = tenants[(i/3)%len(tenants)]
				b.Type = types[(i/3)%len(types)]
			}
			if _, err := w.PutBatch(&b); err != nil {
				return err
			}
			d.batches[i] = &b
		}
		return nil
	}))
	checkConsistent(t, s)
	checkTenantCounts(t, s, d.batches)
}

// Camunda 7's withFailures under a tenant scope, with or without a type
// equality, is one range per visible tenant of a FAILING-first index with
// TENANT_ID before START_TIME: the page reads them merged by START_TIME
// and the count walks their keys, neither checks a record. Without a scope
// the plans are those of the indexes without TENANT_ID, as before.
func TestTenantScopeFailingPlans(t *testing.T) {
	d := randomData(32, 600, 0, 0)
	s := openTemp(t)
	d.load(t, s)
	scope := &TenantScope{IDs: []string{"Tenant_C", "tenant-a"}}
	cases := []struct {
		name         string
		f            BatchFilter
		scoped, bare string // the index with and without the scope
	}{
		{"Q5: type eq, failedJobs gt 0", BatchFilter{Type: &StringFilter{Eq: sp("instance-migration")}, FailedJobs: &IntFilter{Gt: ip(0)}},
			"[FAILING TYPE TENANT_ID START_TIME]", "[FAILING TYPE START_TIME]"},
		{"failedJobs gte 1", BatchFilter{FailedJobs: &IntFilter{Gte: ip(1)}},
			"[FAILING TENANT_ID START_TIME]", "[FAILING START_TIME]"},
	}
	for _, c := range cases {
		for _, desc := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s desc=%v", c.name, desc), func(t *testing.T) {
				order := []Order{{Field: "START_TIME", Desc: desc}}
				require.NoError(t, s.View(context.Background(), func(r *Reader) error {
					ts, err := batchTerms(&c.f)
					require.NoError(t, err)
					bare := choosePlan(r, batchKind, ts, condsOf(map[string]*cond{}, ts), order, 50)
					assert.Equal(t, c.bare, bare.ix.name, "without a scope")
					assert.Empty(t, bare.residual)
					assert.Equal(t, c.bare, countPlan(r, batchKind, ts, condsOf(map[string]*cond{}, ts)).ix.name, "count without a scope")

					ts = append(ts, tenantTerm(scope))
					conds := condsOf(map[string]*cond{}, ts)
					p := choosePlan(r, batchKind, ts, conds, order, 50)
					assert.Equal(t, "index "+c.scoped+" ordered"+map[bool]string{true: " descending"}[desc]+", 3 ranges", p.describe())
					assert.Empty(t, p.residual)
					cp := countPlan(r, batchKind, ts, conds)
					assert.Equal(t, c.scoped, cp.ix.name, "count")
					assert.Empty(t, cp.residual, "the count walks keys only")
					return nil
				}))
			})
		}
	}
	// The scoped count reads keys, it decodes no record: its allocations
	// do not grow with the records it counts.
	f := cases[0].f
	scopedCount := func() (allocs float64, total int) {
		ctx := WithTenants(context.Background(), scope.IDs)
		allocs = testing.AllocsPerRun(20, func() {
			first := 0
			p, err := s.Batches(ctx, BatchQuery{Filter: f, Order: []Order{{Field: "START_TIME", Desc: true}}, Page: PageRequest{First: &first}, Count: true})
			require.NoError(t, err)
			total = p.TotalCount
		})
		return allocs, total
	}
	before, n := scopedCount()
	require.NoError(t, s.Update(context.Background(), func(w *Writer) error {
		for i := range 300 {
			start := time.Date(2026, 10, 1, 0, i, 0, 0, time.UTC)
			b := &Batch{BatchID: fmt.Sprintf("added-%03d", i), Type: "instance-migration", TenantID: []*string{nil, sp("tenant-a"), sp("Tenant_C")}[i%3],
				StartTime: &start, Statistics: &BatchStatistics{FailedJobs: 1 + i%2}}
			if _, err := w.PutBatch(b); err != nil {
				return err
			}
		}
		return nil
	}))
	after, m := scopedCount()
	require.Equal(t, n+300, m)
	assert.InDelta(t, before, after, 5, "allocations of a count of %d and of %d records", n, m)
}

// tenantIndexes are the index buckets added with the tenant counter sets.
var tenantIndexes = []string{"ix batches [FAILING TYPE TENANT_ID START_TIME]", "ix batches [FAILING TENANT_ID START_TIME]"}

// oldFile makes s's file look written before the tenant counter sets and
// the FAILING indexes with TENANT_ID: their counters and buckets and the
// record of counted sets are removed.
func oldFile(t *testing.T, s *Store) {
	t.Helper()
	require.NoError(t, s.DB().Update(func(tx *bolt.Tx) error {
		for _, id := range []string{"b/TENANT_ID/", "b/TENANT_ID,TYPE/"} {
			if err := dropCounters(tx.Bucket(bucketCounters), id); err != nil {
				return err
			}
		}
		for _, name := range tenantIndexes {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(metaCounted)
	}))
}

// A file written before the tenant counter sets gets them counted when
// opened (once: the file records it), its counts are right and Verify
// checks the new counters; a set the schema no longer has is dropped. Read
// only, such a file still counts right, by index walks.
func TestOpenCountsNewCounterSets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path, Options{})
	require.NoError(t, err)
	d := randomData(33, 300, 20, 100)
	d.load(t, s)
	oldFile(t, s)
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		assert.Equal(t, []string{"b/TENANT_ID,TYPE/", "b/TENANT_ID/", tenantIndexes[1], tenantIndexes[0]}, slices.Sorted(maps.Keys(lacking(tx))))
		return nil
	}))
	require.NoError(t, s.Close())

	// Read only: the counts walk indexes instead of the missing counters,
	// and the planner does without the missing indexes.
	s, err = Open(path, Options{ReadOnly: true})
	require.NoError(t, err)
	checkScopedTotals(t, s, d.batches)
	q5 := BatchFilter{Type: &StringFilter{Eq: sp("instance-migration")}, FailedJobs: &IntFilter{Gt: ip(0)}}
	tenants := []string{"tenant-a"}
	want := 0
	for _, b := range d.batches {
		if refVisible(tenants, b) && refBatchMatch(&q5, b) {
			want++
		}
	}
	require.Greater(t, want, 3)
	first := 3
	p, err := s.Batches(WithTenants(context.Background(), tenants), BatchQuery{Filter: q5, Order: []Order{{Field: "START_TIME", Desc: true}}, Page: PageRequest{First: &first}, Count: true})
	require.NoError(t, err)
	assert.Equal(t, want, p.TotalCount)
	require.Len(t, p.Edges, 3)
	for _, e := range p.Edges {
		assert.True(t, refVisible(tenants, e.Node) && refBatchMatch(&q5, e.Node), "%s", e.Node.BatchID)
	}
	require.NoError(t, s.View(context.Background(), func(r *Reader) error {
		ts := []term[Batch]{tenantTerm(&TenantScope{IDs: []string{"tenant-a"}})}
		_, ok := countFromCounters(r, batchKind, ts, condsOf(map[string]*cond{}, ts))
		assert.False(t, ok, "no counters for the scope in the old file")
		return nil
	}))
	require.NoError(t, s.Close())

	s, err = Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Verify(context.Background()), "the new counters were counted, the new indexes built")
	checkTenantCounts(t, s, d.batches)
	var counted string
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		counted = string(tx.Bucket(bucketMeta).Get(metaCounted))
		assert.Nil(t, lacking(tx))
		return nil
	}))
	assert.Equal(t, strings.Join(schemaCounted(), "\n"), counted)
	assert.Contains(t, counted, "b/TENANT_ID,TYPE/")

	// Once counted, Open does not count again: a counter broken on
	// purpose stays broken, and Verify names it. A set the schema dropped
	// loses its counters.
	var broken string
	require.NoError(t, s.DB().Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCounters)
		k, _ := c.Cursor().Seek([]byte("b/TENANT_ID/"))
		require.True(t, strings.HasPrefix(string(k), "b/TENANT_ID/"), "%q", k)
		broken = string(k)
		if err := c.Put(k, []byte{0, 0, 0, 0, 0, 0, 0x10, 0}); err != nil {
			return err
		}
		if err := c.Put([]byte("b/CREATE_USER_ID/x"), []byte{0, 0, 0, 0, 0, 0, 0, 1}); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaCounted, []byte(counted+"\nb/CREATE_USER_ID/"))
	}))
	require.NoError(t, s.Close())
	s, err = Open(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	err = s.Verify(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("counter %q is 4096", broken))
	assert.NotContains(t, err.Error(), "CREATE_USER_ID", "the dropped set's counters are gone")
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket(bucketCounters).Get([]byte("b/CREATE_USER_ID/x")))
		assert.Equal(t, counted, string(tx.Bucket(bucketMeta).Get(metaCounted)))
		return nil
	}))
}

// checkScopedTotals requires that the totalCount of every scope of
// tenantScopes and filter of tenantCountFilters equal the reference.
func checkScopedTotals(t *testing.T, s *Store, batches []*Batch) {
	t.Helper()
	for scope, tenants := range tenantScopes {
		for name, f := range tenantCountFilters {
			want := refCount(tenants, &f, batches)
			first := 0
			p, err := s.Batches(WithTenants(context.Background(), tenants), BatchQuery{Filter: f, Page: PageRequest{First: &first}, Count: true})
			require.NoError(t, err)
			assert.Equal(t, want, p.TotalCount, "scope %s, filter %s", scope, name)
		}
	}
}

// refCount counts the batches the reference filter lets through f for a
// reader of tenants.
func refCount(tenants []string, f *BatchFilter, batches []*Batch) int {
	n := 0
	for _, b := range batches {
		if refVisible(tenants, b) && refBatchMatch(f, b) {
			n++
		}
	}
	return n
}
