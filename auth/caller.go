package auth

import (
	"context"
	"slices"
	"time"
)

// Caller is who sent a request, as a verified token says. Callers are shared
// between the requests that send the same token (see the token cache): treat
// them as read-only.
type Caller struct {
	Subject string    // sub; may be empty
	Scopes  []string  // from scope (space-separated) or scp (array)
	Expiry  time.Time // exp; a WebSocket connection may be closed at Expiry plus leeway

	// Tenants are the ids from the tenant claim, sorted and without duplicates.
	Tenants []string
	// HasTenantClaim reports whether the token carried the tenant claim.
	HasTenantClaim bool

	tenantFilter bool // --tenant-claim was configured
}

// HasScope reports whether the caller was granted scope s. The empty scope is
// always granted.
func (c *Caller) HasScope(s string) bool {
	return s == "" || slices.Contains(c.Scopes, s)
}

// TenantScope is which Camunda 7 batches a reader may see. Camunda 8
// operations and items carry no tenant and are visible to every reader.
//
// A batch is visible when All is set, when its tenantId is null, or when its
// tenantId is in IDs. IDs is sorted and has no duplicates, so a storage layer
// can scan one index prefix per id (plus the prefix of "no tenant") instead of
// filtering pages afterwards.
type TenantScope struct {
	All bool
	IDs []string
}

// Visible reports whether a Camunda 7 batch with the given tenant is visible;
// tenantID "" is the null tenant.
func (s TenantScope) Visible(tenantID string) bool {
	if s.All || tenantID == "" {
		return true
	}
	_, ok := slices.BinarySearch(s.IDs, tenantID)
	return ok
}

// TenantScope returns which Camunda 7 batches c may see. With no tenant claim
// configured (and for a nil Caller, i.e. authentication off) that is all of
// them; a token without the claim sees only batches without a tenant.
func (c *Caller) TenantScope() TenantScope {
	if c == nil || !c.tenantFilter {
		return TenantScope{All: true}
	}
	return TenantScope{IDs: slices.Clone(c.Tenants)}
}

type callerKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller that Guard or AuthenticateInit put into ctx.
func FromContext(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok && c != nil
}

// ScopeOf returns the tenant scope of ctx's caller, or All when the request
// carries no caller (authentication off). Storage reads call this.
func ScopeOf(ctx context.Context) TenantScope {
	c, _ := FromContext(ctx)
	return c.TenantScope()
}
