package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// authenticator adds credentials to a request.
type authenticator interface {
	authorize(ctx context.Context, req *http.Request) error
	// invalidate drops a cached credential after a 401 and reports whether
	// a fresh one may help.
	invalidate() bool
}

// basicAuth is HTTP basic auth (Camunda 7, Camunda 8 Self-Managed with
// basic auth).
type basicAuth struct{ user, pass string }

func (b basicAuth) authorize(_ context.Context, req *http.Request) error {
	req.SetBasicAuth(b.user, b.pass)
	return nil
}

func (basicAuth) invalidate() bool { return false }

// OAuth2 is an OAuth 2.0 client credentials grant (RFC 6749 §4.4), as
// Camunda 8 SaaS and Self-Managed with Identity/Keycloak use it.
type OAuth2 struct {
	TokenURL, ClientID, ClientSecret string
	Audience                         string // sent when set (SaaS: zeebe.camunda.io)
}

// tokenSource fetches and caches a bearer token: it is reused until
// shortly before its expires_in (a tenth of its lifetime, at most a
// minute), then fetched anew. Fetches go through the engine client's
// semaphore-free path: the token endpoint is another server.
type tokenSource struct {
	cfg     OAuth2
	hc      *http.Client
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (t *tokenSource) authorize(ctx context.Context, req *http.Request) error {
	tok, err := t.get(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

func (t *tokenSource) invalidate() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	had := t.token != ""
	t.token = ""
	return had
}

func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.expires) {
		return t.token, nil
	}
	tok, ttl, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	margin := min(ttl/10, time.Minute)
	t.token, t.expires = tok, t.now().Add(ttl-margin)
	return tok, nil
}

func (t *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {t.cfg.ClientID}, "client_secret": {t.cfg.ClientSecret}}
	if t.cfg.Audience != "" {
		form.Set("audience", t.cfg.Audience)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("token endpoint: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	u, _ := url.Parse(t.cfg.TokenURL)
	where := "POST " + redact(u)
	resp, err := t.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", 0, fmt.Errorf("token endpoint %s: %w", where, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("token endpoint %s: %w", where, err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(data, &body)
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("token endpoint %s: %d %s", where, resp.StatusCode, http.StatusText(resp.StatusCode))
		if body.Error != "" {
			msg += ": " + body.Error
			if body.Description != "" {
				msg += ": " + shorten(body.Description, 200)
			}
		}
		switch resp.StatusCode {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
			return "", 0, fmt.Errorf("%w: %s", ErrAuth, msg)
		}
		return "", 0, &HTTPError{Method: "POST", URL: redact(u), Status: resp.StatusCode, Title: body.Error,
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	if body.AccessToken == "" {
		return "", 0, &BadResponseError{"POST", redact(u), "no access_token in the token response"}
	}
	ttl := time.Duration(body.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 5 * time.Minute // no expires_in: refetch after a 401 or in 5 minutes
	}
	return body.AccessToken, ttl, nil
}
