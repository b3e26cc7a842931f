package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// allowedAlgs are the signature algorithms a token may use: asymmetric only.
var allowedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

func allowedAlgNames() []string {
	s := make([]string, len(allowedAlgs))
	for i, a := range allowedAlgs {
		s[i] = string(a)
	}
	return s
}

// maxJWKSBytes bounds a JWKS response; real ones are a few KiB.
const maxJWKSBytes = 1 << 20

// keySet is the issuer's JWKS, cached. It implements go-oidc's KeySet. Unlike
// go-oidc's RemoteKeySet it refetches only for a kid it does not know (a
// failed signature under a known key is just a bad signature) and at most once
// per minRefetch, whatever the tokens say.
type keySet struct {
	url        string
	client     *http.Client
	minRefetch time.Duration
	now        func() time.Time
	log        *slog.Logger
	onChange   func() // called after a fetch changed the keys

	mu        sync.Mutex
	keys      []jose.JSONWebKey // public keys only
	lastFetch time.Time         // start of the last fetch, successful or not
	flight    *fetch            // the fetch in progress, or nil
}

type fetch struct {
	done chan struct{}
	keys []jose.JSONWebKey
	err  error
}

// verifyError is why a signature was not accepted.
type verifyError struct {
	unavailable bool // the keys could not be fetched: not the token's fault
	msg         string
}

func (e *verifyError) Error() string { return e.msg }

// VerifySignature checks jwt's signature with the JWKS and returns its payload.
func (s *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, allowedAlgs)
	if err != nil {
		return nil, &verifyError{msg: "malformed token"}
	}
	if len(jws.Signatures) != 1 {
		return nil, &verifyError{msg: "token must have exactly one signature"}
	}
	h := jws.Signatures[0].Header
	payload, found, err := verifyWith(s.cached(), jws, h.KeyID, h.Algorithm)
	if found {
		return payload, err
	}
	keys, ferr := s.refetch(ctx)
	payload, found, err = verifyWith(keys, jws, h.KeyID, h.Algorithm)
	if found {
		return payload, err
	}
	if ferr != nil && len(keys) == 0 {
		return nil, &verifyError{unavailable: true, msg: "signing keys of the issuer are unavailable"}
	}
	if h.KeyID == "" {
		return nil, &verifyError{msg: "no key of the issuer verifies the token signature"}
	}
	return nil, &verifyError{msg: fmt.Sprintf("token signed with unknown key id %q", clip(h.KeyID, 64))}
}

// verifyWith tries the keys that match kid (all keys when kid is empty) and
// the algorithm. found reports whether any key was a candidate; with kid set,
// a failing candidate is a bad signature. Keys are used as bare public keys so
// that nothing in the token's header can choose them.
func verifyWith(keys []jose.JSONWebKey, jws *jose.JSONWebSignature, kid, alg string) (payload []byte, found bool, err error) {
	for i := range keys {
		k := &keys[i]
		if kid != "" && k.KeyID != kid {
			continue
		}
		if kid != "" {
			found = true // a known kid: no reason to refetch, whatever follows
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if p, err := jws.Verify(k.Key); err == nil {
			return p, true, nil
		}
	}
	if found {
		return nil, true, &verifyError{msg: "token signature is invalid"}
	}
	return nil, false, nil
}

func (s *keySet) cached() []jose.JSONWebKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys
}

var errThrottled = errors.New("JWKS refetch throttled")

// refetch fetches the JWKS unless a fetch started less than minRefetch ago, and
// returns the keys known afterwards. Concurrent callers share one fetch.
func (s *keySet) refetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	s.mu.Lock()
	f := s.flight
	if f == nil {
		now := s.now()
		if !s.lastFetch.IsZero() && now.Sub(s.lastFetch) < s.minRefetch {
			keys := s.keys
			s.mu.Unlock()
			return keys, errThrottled
		}
		s.lastFetch = now
		f = &fetch{done: make(chan struct{})}
		s.flight = f
		go s.run(f)
	}
	s.mu.Unlock()
	select {
	case <-ctx.Done():
		return s.cached(), ctx.Err()
	case <-f.done:
		return s.cached(), f.err
	}
}

// run performs fetch f. It does not use a request's context: one caller
// giving up must not cancel the fetch the others wait for; the client's
// timeout bounds it.
func (s *keySet) run(f *fetch) {
	keys, err := s.download(context.Background())
	s.mu.Lock()
	changed := false
	if err == nil {
		changed = !sameKeys(s.keys, keys)
		s.keys = keys
	}
	s.flight = nil
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("oidc: fetching JWKS failed", "url", s.url, "err", err)
	} else if changed {
		s.log.Info("oidc: JWKS loaded", "url", s.url, "keys", len(keys))
		if s.onChange != nil {
			s.onChange()
		}
	}
	f.keys, f.err = keys, err
	close(f.done)
}

func (s *keySet) download(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading JWKS: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS: HTTP %s", resp.Status)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS keeps the public signing keys of a JWKS and skips, as RFC 7517
// §5 asks, keys it cannot use: unknown types, symmetric keys, encryption keys.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(raw, &k); err != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub := publicKey(k.Key)
		if pub == nil {
			continue
		}
		k.Key = pub
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return keys, nil
}

// publicKey returns the public half of an asymmetric key, or nil.
func publicKey(k any) crypto.PublicKey {
	switch k := k.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	}
	return nil
}

func sameKeys(a, b []jose.JSONWebKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].KeyID != b[i].KeyID || a[i].Algorithm != b[i].Algorithm {
			return false
		}
		if eq, ok := a[i].Key.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(b[i].Key) {
			return false
		}
	}
	return true
}

// clip shortens attacker-controlled text for messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
