package storage

// Tenant scope: which Camunda 7 batches a read may see (contract §11). The
// scope travels in the context (WithTenants); Store.View gives it to its
// Reader, and every batch read of that Reader obeys it inside the query:
// the connections AND it with the filter as one more term (tenantId in
// [ids…] or null), so the planner reads index ranges with TENANT_ID
// prefixes and totalCount, cursors and hasNextPage are computed on the
// visible set only; Batch returns nil for an invisible batch, exactly as for
// an unknown one. Camunda 8 operations and items carry no tenant and are not
// scoped.

import (
	"bytes"
	"context"
	"slices"
)

// TenantScope is a set of tenant ids. A batch is visible when its tenantId
// is null or one of IDs. A nil *TenantScope means every batch is visible.
type TenantScope struct {
	IDs []string
}

type tenantsKey struct{}

// WithTenants returns ctx whose storage reads see only the batches of the
// tenants ids (and the batches without a tenant). Store.View and the
// Store's connection methods take the scope from the context.
func WithTenants(ctx context.Context, ids []string) context.Context {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return context.WithValue(ctx, tenantsKey{}, &TenantScope{IDs: slices.Compact(ids)})
}

// TenantsOf returns the scope WithTenants put into ctx, or nil (every batch).
func TenantsOf(ctx context.Context) *TenantScope {
	s, _ := ctx.Value(tenantsKey{}).(*TenantScope)
	return s
}

// Visible reports whether a batch of tenant id (nil: no tenant) is in s.
func (s *TenantScope) Visible(id *string) bool {
	if s == nil || id == nil {
		return true
	}
	_, ok := slices.BinarySearch(s.IDs, *id)
	return ok
}

// tenantTerm is the filter term of a scope: TENANT_ID in (ids…, null), an
// exact equality the planner turns into one index prefix per value.
func tenantTerm(s *TenantScope) term[Batch] {
	vals := make([][]byte, 0, len(s.IDs)+1)
	for _, id := range s.IDs {
		vals = append(vals, appendStr(nil, id))
	}
	vals = append(vals, nullComp)
	return term[Batch]{
		field: "TENANT_ID",
		cond:  eqCond(vals, true),
		pred:  func(b *Batch) bool { return s.Visible(b.TenantID) },
	}
}

// mergeCond intersects two conds on one field (the caller's filter and the
// tenant scope): equalities intersect, an equality keeps the values inside
// the other's range, ranges narrow. The result decides both terms only
// when both conds were exact.
func mergeCond(a, b *cond) *cond {
	exact := a.exact && b.exact
	switch {
	case a.eq != nil && b.eq != nil:
		vals := [][]byte{}
		for _, v := range a.eq {
			if _, ok := slices.BinarySearchFunc(b.eq, v, bytes.Compare); ok {
				vals = append(vals, v)
			}
		}
		return &cond{eq: vals, exact: exact}
	case b.eq != nil:
		a, b = b, a
		fallthrough
	case a.eq != nil:
		if !b.hasRange {
			return &cond{eq: a.eq, exact: false}
		}
		vals := [][]byte{}
		for _, v := range a.eq {
			if (b.lo == nil || bytes.Compare(v, b.lo) >= 0) && (b.hi == nil || bytes.Compare(v, b.hi) < 0) {
				vals = append(vals, v)
			}
		}
		return &cond{eq: vals, exact: exact}
	case a.hasRange && b.hasRange:
		return &cond{hasRange: true, lo: maxBytes(a.lo, b.lo), hi: minBytes(a.hi, b.hi), exact: exact}
	case a.hasRange:
		return &cond{hasRange: true, lo: a.lo, hi: a.hi, exact: false}
	}
	return &cond{hasRange: true, lo: b.lo, hi: b.hi, exact: false}
}

// prefixComponent returns the i-th component of an index prefix.
func prefixComponent(pre []byte, i int) []byte {
	for ; ; i-- {
		n, err := skipComponent(pre)
		if err != nil {
			return nil
		}
		if i == 0 {
			return pre[:n]
		}
		pre = pre[n:]
	}
}
