package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/tracing"
)

// Config says which engines to sync from and how often.
type Config struct {
	Camunda8 *Camunda8Config // nil: no Camunda 8
	Camunda7 *Camunda7Config // nil: no Camunda 7
	// Interval is the period of the poll of running work (default 5s);
	// FullInterval the period of a full reconciliation (default 10m).
	Interval, FullInterval time.Duration
	// Timeout bounds each request (default 30s, at most... the caller's).
	Timeout time.Duration
	// Attempts is the number of tries of a request that meets an overload
	// answer or a transport error (default 4); Backoff the first backoff
	// (default 200ms), doubled per try with full jitter, capped at MaxWait
	// (default 30s; Retry-After is honoured up to it).
	Attempts         int
	Backoff, MaxWait time.Duration
	// HTTPClient sends the requests (default: a client of its own).
	HTTPClient *http.Client
	Log        *slog.Logger
}

// Camunda8Config is a Camunda 8 Orchestration Cluster REST API.
type Camunda8Config struct {
	URL                string  // base ending in /v2
	OAuth2             *OAuth2 // client credentials; nil for none
	Username, Password string  // basic auth when Username is set
}

// Camunda7Config is a Camunda 7 engine REST API.
type Camunda7Config struct {
	URL                string // e.g. http://localhost:8080/engine-rest
	Username, Password string
}

// Syncer polls the configured engines and hands what it reads to an
// Applier.
type Syncer struct {
	cfg     Config
	sources []*source
}

// poller is one engine's reading logic.
type poller interface {
	poll(ctx context.Context, full bool) error
}

// source is one engine: its poller, its client and its status.
type source struct {
	cfg    *Config
	t      *tracker
	p      poller
	c      *client
	apply  Applier
	log    *slog.Logger
	now    func() time.Time
	wakeup chan struct{} // tests: poll now
}

// New checks cfg and returns a Syncer that writes through a. It sends
// nothing until Run.
func New(cfg Config, a Applier) (*Syncer, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.FullInterval <= 0 {
		cfg.FullInterval = 10 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Syncer{cfg: cfg}
	if c := cfg.Camunda8; c != nil {
		var auth authenticator
		switch {
		case c.OAuth2 != nil:
			if _, err := parseBase(c.OAuth2.TokenURL, "--camunda8-oauth-url"); err != nil {
				return nil, err
			}
			if c.OAuth2.ClientID == "" || c.OAuth2.ClientSecret == "" {
				return nil, errors.New("--camunda8-oauth-url needs --camunda8-client-id and --camunda8-client-secret")
			}
			auth = &tokenSource{cfg: *c.OAuth2, hc: cfg.HTTPClient, timeout: cfg.Timeout, now: time.Now}
		case c.Username != "":
			auth = basicAuth{c.Username, c.Password}
		}
		src, err := s.newSource(Camunda8, c.URL, "--camunda8-url", auth, a)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(strings.TrimSuffix(src.c.base.Path, "/"), "/v2") {
			cfg.Log.Warn("sync: --camunda8-url does not end in /v2 (the Orchestration Cluster REST API base, e.g. http://localhost:8080/v2)", "url", src.t.st.URL)
		}
		src.p = &c8{src: src}
		s.sources = append(s.sources, src)
	}
	if c := cfg.Camunda7; c != nil {
		var auth authenticator
		if c.Username != "" {
			auth = basicAuth{c.Username, c.Password}
		}
		src, err := s.newSource(Camunda7, c.URL, "--camunda7-url", auth, a)
		if err != nil {
			return nil, err
		}
		src.p = &c7{src: src}
		s.sources = append(s.sources, src)
	}
	return s, nil
}

func parseBase(raw, flag string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: want an http(s) URL, e.g. http://localhost:8080/..., not %q", flag, raw)
	}
	return u, nil
}

func (s *Syncer) newSource(e Engine, raw, flag string, auth authenticator, a Applier) (*source, error) {
	u, err := parseBase(raw, flag)
	if err != nil {
		return nil, err
	}
	if u.User != nil && auth == nil {
		pass, _ := u.User.Password()
		auth = basicAuth{u.User.Username(), pass}
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	src := &source{cfg: &s.cfg, t: newTracker(e, u.String()), apply: a, now: time.Now,
		log: s.cfg.Log.With("engine", string(e)), wakeup: make(chan struct{}, 1)}
	src.c = &client{base: u, hc: s.cfg.HTTPClient, auth: auth, timeout: s.cfg.Timeout, sem: make(chan struct{}, inFlight),
		attempts: s.cfg.Attempts, backoff: s.cfg.Backoff, maxWait: s.cfg.MaxWait}
	src.c.retrying = func(err error, wait time.Duration) {
		src.t.retrying(err)
		src.log.Warn("sync: retrying", "err", err, "wait", wait.Round(time.Millisecond))
	}
	src.c.counted = src.t.request
	return src, nil
}

// Status returns each source's status, in a fixed order (Camunda 8, then
// Camunda 7).
func (s *Syncer) Status() []Status {
	out := make([]Status, len(s.sources))
	for i, src := range s.sources {
		out[i] = src.t.status()
	}
	return out
}

// Run polls every source until ctx is done: a full reconciliation at
// once and then every FullInterval, the running work every Interval, with
// backoff after a failed poll. It returns when all sources have stopped,
// which they do between write transactions.
func (s *Syncer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, src := range s.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src.run(ctx)
		}()
	}
	wg.Wait()
}

func (src *source) run(ctx context.Context) {
	nextFull := src.now()
	failures := 0
	for ctx.Err() == nil {
		full := !src.now().Before(nextFull)
		start := src.now()
		src.t.begin(start, full)
		err := src.traced(ctx, full)
		if ctx.Err() != nil {
			return
		}
		wait := src.cfg.Interval
		if err != nil {
			failures++
			src.t.failed(err)
			wait = pollBackoff(src.cfg.Interval, failures)
			src.log.Warn("sync: poll failed", "full", full, "err", err, "next_in", wait.Round(time.Millisecond))
		} else {
			failures = 0
			src.t.succeeded(src.now(), full)
			if full {
				nextFull = start.Add(src.cfg.FullInterval)
				src.log.Info("sync: full reconciliation done", "elapsed", src.now().Sub(start).Round(time.Millisecond))
				wait = src.afterPass(start, wait)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-src.wakeup:
			t.Stop()
		}
	}
}

// afterPass is the wait after a full pass that began at start: a poller
// that polls running work during its passes (Camunda 8) is next due one
// interval after the last of those polls began, not after the pass's end,
// which can come up to an interval and a page later (2 × interval, contract
// §8).
func (src *source) afterPass(start time.Time, wait time.Duration) time.Duration {
	in, ok := src.p.(interface{ lastPoll() time.Time })
	if !ok || !in.lastPoll().After(start) {
		return wait
	}
	return max(0, in.lastPoll().Add(wait).Sub(src.now()))
}

// traced runs one poll in a span "sync poll" (contract §12), a child of
// nothing: a poll is a trace of its own. Without a configured exporter the
// global tracer is a no-op.
func (src *source) traced(ctx context.Context, full bool) error {
	st := src.t.status()
	ctx, span := otel.Tracer(tracing.ScopeName).Start(ctx, "sync poll", trace.WithAttributes(
		attribute.String("batchql.sync.engine", strings.ToLower(string(st.Engine))),
		attribute.Bool("batchql.sync.full", full)))
	defer span.End()
	err := src.p.poll(ctx, full)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "poll failed")
	}
	return err
}

// pollBackoff is the wait after the n-th failed poll in a row: the
// interval doubled per failure, capped at 8 intervals and 5 minutes (but
// never below the interval), with jitter over its upper half.
func pollBackoff(interval time.Duration, n int) time.Duration {
	ceil := min(interval<<min(n-1, 3), 5*time.Minute)
	ceil = max(ceil, interval)
	return ceil/2 + time.Duration(rand.Int64N(int64(ceil/2)+1))
}

// storeResponse quarantines a decoded response's bad records and applies
// its patches in order (the sources decode each body once, with
// importer.DecodeResponse).
func (src *source) storeResponse(ctx context.Context, resp importer.Response) error {
	now := src.now()
	for _, r := range resp.Bad {
		var field, value *string
		if r.Err.Field != "" {
			field = &r.Err.Field
		}
		if r.Err.Value != "" {
			value = &r.Err.Value
		}
		if !src.t.quarantine(now, r.Kind, r.Key, field, value, r.Err.Reason) {
			continue // listed already: logged once
		}
		src.log.Warn("sync: record quarantined", "kind", r.Kind, "key", r.Key, "field", r.Err.Field, "value", r.Err.Value, "reason", r.Err.Reason)
	}
	return src.applyPatches(ctx, resp.Patches)
}

func (src *source) applyPatches(ctx context.Context, patches []*importer.Patch) error {
	if len(patches) == 0 {
		return nil
	}
	res, err := src.apply.Apply(ctx, patches)
	src.t.written(res.Written) // committed, even when a later transaction failed
	if err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	landed := patches
	if len(res.Rejected) > 0 {
		now := src.now()
		rej := map[*importer.Patch]bool{}
		for _, r := range res.Rejected {
			if r.Patch == nil { // a batch lost whole: the poll did not write all it read
				return fmt.Errorf("writing: %w", r.Err)
			}
			rej[r.Patch] = true
			var field *string
			reason := r.Err.Error()
			if r.Field != "" {
				field = &r.Field
				reason = "is missing and the record is not stored yet: " + reason
			}
			if src.t.quarantine(now, r.Patch.Kind(), r.Patch.Key(), field, nil, reason) {
				src.log.Warn("sync: record quarantined", "kind", r.Patch.Kind(), "key", r.Patch.Key(), "field", r.Field, "reason", r.Err.Error())
			}
		}
		landed = make([]*importer.Patch, 0, len(patches))
		for _, p := range patches {
			if !rej[p] {
				landed = append(landed, p)
			}
		}
	}
	src.t.landed(landed)
	return nil
}

// join is base path + suffix for messages.
func join(base, suffix string) string { return strings.TrimSuffix(base, "/") + suffix }
