package enginefake

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// authorized checks r's credentials against the fake's auth mode and
// answers 401 when they fail.
func (c *Camunda8) authorized(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case c.cfg.oauth != nil:
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="camunda8-fake"`)
			c.problem(w, r, http.StatusUnauthorized, "UNAUTHORIZED", "A bearer token is required")
			return false
		}
		c.mu.Lock()
		exp, known := c.tokens[tok]
		c.mu.Unlock()
		if !known || !c.cfg.clock.Now().Before(exp) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="camunda8-fake", error="invalid_token"`)
			c.problem(w, r, http.StatusUnauthorized, "UNAUTHORIZED", "The bearer token is unknown or expired")
			return false
		}
	case c.cfg.user != "":
		if !basicOK(r, c.cfg.user, c.cfg.pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="camunda8-fake"`)
			c.problem(w, r, http.StatusUnauthorized, "UNAUTHORIZED", "Basic credentials are missing or wrong")
			return false
		}
	}
	return true
}

func basicOK(r *http.Request, user, pass string) bool {
	u, p, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(pass)) == 1
}

// token is the OAuth 2.0 token endpoint (RFC 6749 §4.4): client credentials
// in the form or as basic auth, the audience when configured.
func (c *Camunda8) token(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.tokReqs++
	c.mu.Unlock()
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthErr(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	o := c.cfg.oauth
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials, not '"+gt+"'")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != o.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(o.ClientSecret)) != 1 {
		oauthErr(http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if aud := r.PostForm.Get("audience"); o.Audience != "" && aud != o.Audience {
		oauthErr(http.StatusBadRequest, "invalid_request", "audience must be '"+o.Audience+"', not '"+aud+"'")
		return
	}
	ttl := o.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "fake-" + hex.EncodeToString(b)
	c.mu.Lock()
	c.tokens[tok] = c.cfg.clock.Now().Add(ttl)
	c.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl / time.Second),
	})
}

// TokenRequests returns how many requests reached the token endpoint.
func (c *Camunda8) TokenRequests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokReqs
}

// ExpireTokens revokes every token issued so far.
func (c *Camunda8) ExpireTokens() {
	c.mu.Lock()
	clear(c.tokens)
	c.mu.Unlock()
}
