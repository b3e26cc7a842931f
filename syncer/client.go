package syncer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds an engine response: a page of 1000 records is well below.
const maxBody = 64 << 20

// client sends an engine's requests: a timeout per request, at most
// inFlight requests at once (a semaphore shared by everything that talks to
// that engine), retries with exponential backoff and full jitter on
// overload answers (429, 502, 503, 504, problem RESOURCE_EXHAUSTED) and
// transport errors, honouring Retry-After.
type client struct {
	base     *url.URL // without credentials
	hc       *http.Client
	auth     authenticator
	timeout  time.Duration
	sem      chan struct{}
	attempts int           // tries per request
	backoff  time.Duration // first backoff; doubles per try
	maxWait  time.Duration // cap of one backoff (and of Retry-After)
	// retrying is told about each retry (the source reports BACKING_OFF).
	retrying func(err error, wait time.Duration)
	// counted is told about each request sent.
	counted func()
}

// inFlight is the contract's limit of concurrent requests per engine.
const inFlight = 2

// HTTPError is an engine answer other than 2xx.
type HTTPError struct {
	Method, URL string // URL without credentials or query secrets
	Status      int
	Title       string // problem title (Camunda 8) or exception type (Camunda 7)
	Detail      string // problem detail or exception message, shortened
	RetryAfter  time.Duration
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Title != "" {
		b.WriteString(": " + e.Title)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// Auth reports a 401 or 403.
func (e *HTTPError) Auth() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// retryable reports whether an answer is the engine asking to back off.
func (e *HTTPError) retryable() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.Title == "RESOURCE_EXHAUSTED"
}

// ErrAuth marks authentication failures (401/403 from the engine or the
// token endpoint): retrying the same credentials does not help.
var ErrAuth = errors.New("authentication failed")

// BadResponseError is a 2xx answer whose body is not what the API returns.
type BadResponseError struct {
	Method, URL string
	Reason      string
}

func (e *BadResponseError) Error() string {
	return fmt.Sprintf("%s %s: bad response: %s", e.Method, e.URL, e.Reason)
}

// get sends a GET to path (relative to the base) with query and returns
// the body.
func (c *client) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, query, nil)
}

// post sends body as JSON to path and returns the answer's body.
func (c *client) post(ctx context.Context, path string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, http.MethodPost, path, nil, data)
}

func (c *client) do(ctx context.Context, method, path string, query url.Values, body []byte) ([]byte, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	var err error
	for try := 0; ; try++ {
		var data []byte
		data, err = c.once(ctx, method, &u, body)
		if err == nil {
			return data, nil
		}
		if try+1 >= c.attempts || ctx.Err() != nil || errors.Is(err, ErrAuth) {
			return nil, err
		}
		wait, ok := c.retryWait(err, try)
		if !ok {
			return nil, err
		}
		if c.retrying != nil {
			c.retrying(err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// retryWait decides whether err is worth another try and how long to wait:
// full jitter (a uniform wait up to backoff × 2^try, capped), but never less
// than the engine's Retry-After.
func (c *client) retryWait(err error, try int) (time.Duration, bool) {
	var he *HTTPError
	var bad *BadResponseError
	switch {
	case errors.As(err, &he):
		if !he.retryable() {
			return 0, false
		}
	case errors.As(err, &bad):
		return 0, false // a garbled answer: the next poll tries again
	}
	ceil := min(c.backoff<<min(try, 20), c.maxWait)
	wait := time.Duration(rand.Int64N(int64(ceil) + 1))
	if he != nil && he.RetryAfter > wait {
		wait = min(he.RetryAfter, c.maxWait)
	}
	return wait, true
}

// once is one request, within the semaphore and the timeout.
func (c *client) once(ctx context.Context, method string, u *url.URL, body []byte) ([]byte, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	if c.counted != nil {
		c.counted()
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	data, err := c.send(rctx, method, u, body, true)
	if err != nil && rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return nil, fmt.Errorf("%s %s: no answer within %s", method, redact(u), c.timeout)
	}
	return data, err
}

func (c *client) send(ctx context.Context, method string, u *url.URL, body []byte, retryAuth bool) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != nil {
		if err := c.auth.authorize(ctx, req); err != nil {
			return nil, err
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, redact(u), err)
	}
	defer resp.Body.Close()
	data, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, redact(u), err)
	}
	if resp.StatusCode/100 == 2 {
		if len(data) > maxBody {
			return nil, &BadResponseError{method, redact(u), fmt.Sprintf("body over %d bytes", maxBody)}
		}
		return data, nil
	}
	he := errorOf(method, redact(u), resp, data)
	if he.Status == http.StatusUnauthorized && retryAuth && c.auth != nil && c.auth.invalidate() {
		return c.send(ctx, method, u, body, false) // an expired token: once more with a fresh one
	}
	if he.Auth() {
		return nil, fmt.Errorf("%w: %w", ErrAuth, he)
	}
	return nil, he
}

// errorOf reads an error answer: an RFC 9457 problem (Camunda 8), a
// Camunda 7 exception {type, message}, or anything else (a proxy's page).
func errorOf(method, u string, resp *http.Response, data []byte) *HTTPError {
	he := &HTTPError{Method: method, URL: u, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var p struct {
		Title, Detail, Type, Message string
	}
	if json.Unmarshal(data, &p) == nil {
		if p.Title != "" || p.Detail != "" {
			he.Title, he.Detail = p.Title, p.Detail
		} else {
			he.Title, he.Detail = p.Type, p.Message
		}
	}
	he.Detail = shorten(he.Detail, 200)
	return he
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// redact is u without user info and query, for messages and status.
func redact(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	return v.String()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// readBody reads up to maxBody+1 bytes of resp's body, into a buffer of
// the announced length when there is one (io.ReadAll grows its buffer
// step by step: 12 allocations and copies for a page of 1,000 items).
func readBody(resp *http.Response) ([]byte, error) {
	r := io.LimitReader(resp.Body, maxBody+1)
	if n := resp.ContentLength; n > 0 && n <= maxBody {
		var b bytes.Buffer
		b.Grow(int(n) + bytes.MinRead) // ReadFrom reads on until EOF
		_, err := b.ReadFrom(r)
		return b.Bytes(), err
	}
	return io.ReadAll(r)
}
