package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultImportScope is the scope --import-scope defaults to.
const DefaultImportScope = "batchql:import"

// Config holds the authentication flags of serve. The zero value (no issuer)
// means authentication is off.
type Config struct {
	Issuer      string // --oidc-issuer: the issuer URL, as in the tokens' iss
	Audience    string // --oidc-audience: must be in the tokens' aud
	ReadScope   string // --read-scope: needed for /query; "" means any valid token reads
	ImportScope string // --import-scope: needed for /import; "" means DefaultImportScope
	TenantClaim string // --tenant-claim: claim with the caller's tenant ids; "" means no tenant filtering
}

// Enabled reports whether OIDC authentication is configured.
func (c Config) Enabled() bool { return c.Issuer != "" }

// Validate checks the flags and names the one that is wrong. It does no I/O.
func (c Config) Validate() error {
	if !c.Enabled() {
		if c.Audience != "" {
			return errors.New("--oidc-audience needs --oidc-issuer")
		}
		if c.ReadScope != "" || c.ImportScope != "" || c.TenantClaim != "" {
			return errors.New("--read-scope, --import-scope and --tenant-claim need --oidc-issuer")
		}
		return nil
	}
	u, err := url.Parse(c.Issuer)
	if err != nil {
		return fmt.Errorf("--oidc-issuer %q: %w", c.Issuer, err)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--oidc-issuer %q: want an absolute URL without query, fragment or user info", c.Issuer)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("--oidc-issuer %q: must be https (plain http only for localhost)", c.Issuer)
		}
	default:
		return fmt.Errorf("--oidc-issuer %q: must be https", c.Issuer)
	}
	if c.Audience == "" {
		return errors.New("--oidc-issuer needs --oidc-audience")
	}
	for _, f := range []struct{ name, v string }{
		{"--read-scope", c.ReadScope},
		{"--import-scope", c.ImportScope},
	} {
		if strings.ContainsAny(f.v, " \t\r\n\"\\") {
			return fmt.Errorf("%s %q: a scope is one token without spaces or quotes", f.name, f.v)
		}
	}
	if strings.TrimSpace(c.TenantClaim) != c.TenantClaim {
		return fmt.Errorf("--tenant-claim %q: surrounding spaces", c.TenantClaim)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
