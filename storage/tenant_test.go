package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// refVisible is the reference tenant filter, from the contract's words: a
// batch is visible when its tenantId is null or among the caller's tenants.
func refVisible(tenants []string, b *Batch) bool {
	return b.TenantID == nil || slices.Contains(tenants, *b.TenantID)
}

// manyTenants is more tenants than the planner merges ranges for
// (maxPrefixCombos): the scope is then checked per record, still exactly.
var manyTenants = func() []string {
	ids := []string{"tenant-b"}
	for i := range maxPrefixCombos + 6 {
		ids = append(ids, fmt.Sprintf("other-%03d", i))
	}
	return ids
}()

var tenantScopes = map[string][]string{
	"many":        manyTenants,
	"none":        {},
	"a":           {"tenant-a"},
	"a,C":         {"Tenant_C", "tenant-a"},
	"all three":   {"tenant-a", "tenant-b", "Tenant_C"},
	"unknown":     {"tenant-z"},
	"a,dup,empty": {"tenant-a", "tenant-a", ""},
}

var tenantOrders = [][]Order{
	nil,
	{{Field: "BATCH_ID"}},
	{{Field: "BATCH_ID", Desc: true}},
	{{Field: "TYPE"}},
	{{Field: "TENANT_ID"}},
	{{Field: "TENANT_ID", Desc: true}},
	{{Field: "START_TIME", Desc: true}},
	{{Field: "END_TIME"}},
	{{Field: "TENANT_ID"}, {Field: "START_TIME"}},
	{{Field: "TYPE"}, {Field: "START_TIME", Desc: true}},
}

// Every list, totalCount, cursor walk forward and backward, and hasNextPage/
// hasPreviousPage of a tenant-scoped reader equals the reference filter's
// answer on the visible records only, under every orderBy, alone and ANDed
// with the caller's own filters (tenantId filters included).
func TestTenantScopeMatchesReference(t *testing.T) {
	d := randomData(21, 300, 0, 0)
	s := openTemp(t)
	d.load(t, s)
	fa := false
	filters := map[string]BatchFilter{
		"none":                {},
		"type eq":             {Type: &StringFilter{Eq: sp("instance-migration")}},
		"type eq failed gt":   {Type: &StringFilter{Eq: sp("instance-migration")}, FailedJobs: &IntFilter{Gt: ip(0)}},
		"tenant eq b":         {TenantID: &StringFilter{Eq: sp("tenant-b")}},
		"tenant in a,b":       {TenantID: &StringFilter{In: []string{"tenant-a", "tenant-b"}}},
		"tenant exists false": {TenantID: &StringFilter{Exists: &fa}},
		"tenant neq a":        {TenantID: &StringFilter{Neq: sp("tenant-a")}},
		"tenant like":         {TenantID: &StringFilter{Like: sp("tenant-*")}},
		"id like uuid":        {BatchID: &StringFilter{Like: sp("*-1b2d-*")}},
	}
	for name, tenants := range tenantScopes {
		t.Run(name, func(t *testing.T) {
			scoped := func(ctx context.Context, q BatchQuery) (*Page[Batch], error) {
				return s.Batches(WithTenants(ctx, tenants), q)
			}
			match := func(f *BatchFilter, b *Batch) bool { return refVisible(tenants, b) && refBatchMatch(f, b) }
			matchReference(t, d.batches, filters, tenantOrders, match, refBatchFields, refBatchFields["BATCH_ID"],
				func(b *Batch) string { return b.BatchID }, true, scoped)
		})
	}
}

// A single lookup of an invisible batch is nil, as for an unknown one; the
// operations and items are not scoped.
func TestTenantScopeLookups(t *testing.T) {
	d := randomData(22, 120, 20, 50)
	s := openTemp(t)
	d.load(t, s)
	tenants := []string{"tenant-b"}
	ctx := WithTenants(context.Background(), tenants)
	require.NoError(t, s.View(ctx, func(r *Reader) error {
		for _, b := range d.batches {
			got, err := r.Batch(b.BatchID)
			require.NoError(t, err)
			if refVisible(tenants, b) {
				assert.NotNil(t, got, "batch %s of tenant %v", b.BatchID, b.TenantID)
			} else {
				assert.Nil(t, got, "batch %s of tenant %v", b.BatchID, *b.TenantID)
			}
		}
		for _, o := range d.ops {
			got, err := r.BatchOperation(o.BatchOperationKey)
			require.NoError(t, err)
			assert.NotNil(t, got)
		}
		return nil
	}))
	all, err := s.BatchOperations(ctx, BatchOperationQuery{Count: true})
	require.NoError(t, err)
	assert.Equal(t, len(d.ops), all.TotalCount, "operations carry no tenant")
	// Without a scope, every batch.
	require.NoError(t, s.View(context.Background(), func(r *Reader) error {
		for _, b := range d.batches {
			got, err := r.Batch(b.BatchID)
			require.NoError(t, err)
			assert.NotNil(t, got)
		}
		return nil
	}))
}

// The scope is an index prefix, not a scan: under every orderBy the plan is
// ranges of a TENANT_ID-first index, in the requested order, with nothing
// left to check per record; and a page reads only the page's keys.
func TestTenantScopePlans(t *testing.T) {
	d := randomData(23, 400, 0, 0)
	s := openTemp(t)
	d.load(t, s)
	scope := &TenantScope{IDs: []string{"Tenant_C", "tenant-a"}}
	orders := append(slices.Clone(tenantOrders[:8]),
		[]Order{{Field: "TENANT_ID", Desc: true}, {Field: "START_TIME", Desc: true}},
		[]Order{{Field: "TYPE", Desc: true}})
	require.NoError(t, s.View(context.Background(), func(r *Reader) error {
		for _, order := range orders {
			ts := []term[Batch]{tenantTerm(scope)}
			p := choosePlan(r, batchKind, ts, condsOf(map[string]*cond{}, ts), order, 20)
			assert.True(t, strings.HasPrefix(p.ix.name, "[TENANT_ID"), "%s: index %s", orderSig(order), p.ix.name)
			assert.True(t, p.ordered, "%s: ordered", orderSig(order))
			assert.Empty(t, p.residual, "%s: residual checks", orderSig(order))
			assert.Len(t, p.prefixes, 3, "%s: one range per tenant and one for null", orderSig(order))
		}
		// With the caller's own tenantId filter, the ranges are the
		// intersection.
		ts, err := batchTerms(&BatchFilter{TenantID: &StringFilter{In: []string{"tenant-a", "tenant-b"}}})
		require.NoError(t, err)
		ts = append(ts, tenantTerm(scope))
		p := choosePlan(r, batchKind, ts, condsOf(map[string]*cond{}, ts), []Order{{Field: "START_TIME"}}, 20)
		assert.Equal(t, "[TENANT_ID START_TIME]", p.ix.name)
		assert.Len(t, p.prefixes, 1, "only tenant-a is both filtered and visible")
		assert.Empty(t, p.residual)
		return nil
	}))
	// A page of 5 reads 5 keys (+1 for hasNextPage) per range at most.
	var keys int
	require.NoError(t, s.View(context.Background(), func(r *Reader) error {
		ts := []term[Batch]{tenantTerm(scope)}
		order := []Order{{Field: "START_TIME", Desc: true}}
		p := choosePlan(r, batchKind, ts, condsOf(map[string]*cond{}, ts), order, 5)
		return walk(context.Background(), r.tx, p.ix, batchKind.primary.bucket, p.spans(), !p.desc, 0, func(pk, v []byte) (bool, error) {
			keys++
			return keys <= 5, nil
		})
	}))
	assert.Equal(t, 6, keys)
}

// A file made before the TENANT_ID-first indexes existed gets them built
// when opened, and Verify checks them.
func TestOpenBuildsTenantIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path, Options{})
	require.NoError(t, err)
	d := randomData(24, 150, 0, 0)
	d.load(t, s)
	added := []string{"ix batches [TENANT_ID TYPE]", "ix batches [TENANT_ID START_TIME]", "ix batches [TENANT_ID END_TIME]"}
	require.NoError(t, s.DB().Update(func(tx *bolt.Tx) error {
		for _, name := range added {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	}))
	require.NoError(t, s.Close())

	s, err = Open(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Verify(context.Background()))
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		for _, name := range added {
			b := tx.Bucket([]byte(name))
			require.NotNil(t, b, name)
			assert.Equal(t, len(d.batches), b.Stats().KeyN, name)
		}
		return nil
	}))
	// A broken entry in one of them is found by Verify.
	require.NoError(t, s.DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(added[1])).Put([]byte("\x01stray"), nil)
	}))
	err = s.Verify(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "[TENANT_ID START_TIME]")
}
