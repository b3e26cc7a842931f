package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/storage"
)

// Subscriptions (contract §10). Each subscription is one changes.Sub,
// read by gqlgen's own goroutine for the subscription: gqlgen asks for
// each event through the response interceptors, and subscriptionPull's
// (the innermost) takes the keys of changed records from the Sub (in
// commit order, coalesced), gets the records from a snapshot at or after
// their commit (shared with the other subscribers, shared.go), keeps those
// that match the filter in their new state and has gqlgen evaluate the
// selection on them one at a time (or takes the response another
// subscriber with the same operation got for the same record). Nested
// fields read the store later still: at or after the commit. The
// subscription ends when the client unsubscribes or goes away (the Sub is
// closed then, by context.AfterFunc), when the Sub fails (the subscriber
// fell behind: its connection is dropped so that the client starts over),
// and when the hub closes (shutdown).
//
// An idle subscription holds no goroutine of its own: it used to hold one
// that moved records to gqlgen's over a channel; with 1,000 subscribed
// WebSocket connections that was 1,000 of the server's 5,000 goroutines
// (32 MiB of stacks besides 30 MiB of heap, against --memory-limit-mib 96).

// deliverBatch is how many changed records a subscriber takes at a time
// (and reads from one snapshot, when not read for it already).
const deliverBatch = 256

// CloseTryAgainLater is the WebSocket close code of a connection dropped
// because a subscription fell too far behind (RFC 6455's registry: "try
// again later"); graphql-ws clients reconnect after it.
const CloseTryAgainLater = 1013

// CloseGoingAway is the WebSocket close code when the server shuts down.
const CloseGoingAway = 1001

func subscribeOperations(ctx context.Context, r *Resolver, f *storage.BatchOperationFilter) (<-chan *storage.BatchOperation, error) {
	match, err := storage.MatchBatchOperation(f)
	if err != nil {
		return nil, storageError(err)
	}
	var want changes.Filter
	if f != nil {
		want.IDs = keyIDs(f.BatchOperationKey)
	}
	return subscribe(ctx, r, storage.KindBatchOperation, want, match)
}

func subscribeBatches(ctx context.Context, r *Resolver, f *storage.BatchFilter) (<-chan *storage.Batch, error) {
	match, err := storage.MatchBatch(f)
	if err != nil {
		return nil, storageError(err)
	}
	var want changes.Filter
	if f != nil {
		want.IDs = keyIDs(f.BatchID)
	}
	// Records are read unscoped (shared.go): the caller's tenant scope
	// applies here, as Reader.Batch would apply it.
	tenants := storage.TenantsOf(ctx)
	return subscribe(ctx, r, storage.KindBatch, want,
		func(b *storage.Batch) bool { return tenants.Visible(b.TenantID) && match(b) })
}

func subscribeItems(ctx context.Context, r *Resolver, f *storage.BatchOperationItemFilter) (<-chan *storage.BatchOperationItem, error) {
	match, err := storage.MatchItem(f)
	if err != nil {
		return nil, storageError(err)
	}
	var want changes.Filter
	if f != nil {
		want.IDs = keyIDs(f.BatchOperationKey)
		if items := keyIDs(f.ItemKey); items != nil {
			want.Want = func(k storage.Key) bool { return slices.Contains(items, k.Item) }
		}
	}
	return subscribe(ctx, r, storage.KindItem, want, match)
}

// keyIDs are the only keys a key filter can match (its eq, else its in),
// for the hub to look subscribers up by the changed record's key before
// the full match runs on the record; nil when the filter allows others.
func keyIDs(f *storage.StringFilter) []string {
	switch {
	case f == nil:
		return nil
	case f.Eq != nil:
		return []string{*f.Eq}
	case f.In != nil:
		return append([]string{}, f.In...)
	}
	return nil
}

// pull is the delivery of one subscription operation: subscriptionPull's
// operation interceptor puts an empty one into the operation's context,
// the subscription's resolver sets d, and the response interceptor calls
// d for each event. All three run on gqlgen's goroutine for the
// operation, one after the other.
type pull struct {
	d interface {
		respond(context.Context, graphql.ResponseHandler) *graphql.Response
	}
}

type pullKey struct{}

// subscriptionPull is the extension that gives a subscription operation
// its delivery (see pull). Its response half is pulled, below, by the
// observer, the one response interceptor: gqlgen allocates a closure per
// operation for every interceptor, and a second one cost every query
// (Q6: 336 → 338 allocations).
type subscriptionPull struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = subscriptionPull{}

func (subscriptionPull) ExtensionName() string                   { return "SubscriptionPull" }
func (subscriptionPull) Validate(graphql.ExecutableSchema) error { return nil }

func (subscriptionPull) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	// The observer looks the request's Operation up for every event; a
	// WebSocket subscription has none, and the lookup walked the whole
	// chain of its context each time (1.9 µs of ~26 an event in
	// BenchmarkSubscriptionFanOut's CPU profile): it is kept here.
	ctx = WithOperation(ctx, OperationFrom(ctx))
	return next(context.WithValue(ctx, pullKey{}, &pull{}))
}

// pulled is next's response, or for a subscription its delivery's next
// event: the innermost step of the observer's response interceptor, so
// that it sees every event.
func pulled(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if p, _ := ctx.Value(pullKey{}).(*pull); p != nil && p.d != nil {
		return p.d.respond(ctx, next)
	}
	return next(ctx)
}

func subscribe[R any](ctx context.Context, r *Resolver, kind storage.Kind, want changes.Filter, match func(*R) bool) (<-chan *R, error) {
	if r.cfg.Subscriptions == nil {
		return nil, &gqlerror.Error{Message: "subscriptions are not enabled on this server",
			Extensions: map[string]any{"code": CodeBadUserInput}}
	}
	p, _ := ctx.Value(pullKey{}).(*pull)
	if p == nil || p.d != nil {
		r.log.Error("subscription without its delivery: the SubscriptionPull extension is missing")
		return nil, &gqlerror.Error{Message: internalMessage, Extensions: map[string]any{"code": CodeInternal}}
	}
	st := streamFrom(ctx)
	transport := "other"
	if st != nil {
		transport = st.transport
	}
	sub, err := r.cfg.Subscriptions.Subscribe(kind, transport, want)
	switch {
	case errors.Is(err, changes.ErrTooMany):
		return nil, &gqlerror.Error{Message: fmt.Sprintf("%v: retry later", err),
			Extensions: map[string]any{"code": CodeComplexityLimitExceeded}}
	case errors.Is(err, changes.ErrClosed):
		return nil, &gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": CodeInternal}}
	case err != nil:
		return nil, err
	}
	d := &delivery[R]{r: r, sub: sub, st: st, transport: transport, match: match,
		key: responseKey(ctx), ch: make(chan *R, 1)}
	d.stop = context.AfterFunc(ctx, sub.Close) // unsubscribed or gone
	p.d = d
	return d.ch, nil
}

// delivery is one subscription's state between events.
type delivery[R any] struct {
	r         *Resolver
	sub       *changes.Sub
	st        *stream
	transport string
	match     func(*R) bool
	key       string  // responseKey
	ch        chan *R // the resolver's stream: the record gqlgen executes next
	stop      func() bool
	ended     bool

	changes []changes.Change
	recs    []*sharedRecord // read for changes
	queue   []*sharedRecord // matching, not yet sent
	head    int
}

// respond answers gqlgen's call for the next event: it waits for changed
// records that match, and returns the response to the oldest. nil ends the
// stream.
func (d *delivery[R]) respond(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	for d.head == len(d.queue) {
		if d.ended {
			return nil
		}
		d.queue, d.head = shrink(d.queue), 0
		var err error
		d.changes, err = d.sub.Changes(ctx.Done(), d.changes[:0], deliverBatch)
		if ctx.Err() != nil { // unsubscribed: the Sub is closed by stop's function
			return nil
		}
		if err != nil {
			switch {
			case errors.Is(err, changes.ErrOverflow):
				d.r.log.Warn("subscription dropped", "transport", d.transport, "err", err)
				d.st.drop(CloseTryAgainLater, "subscriber fell behind: subscribe again", CodeComplexityLimitExceeded)
			case errors.Is(err, changes.ErrClosed):
				d.st.drop(CloseGoingAway, "server shutting down", "")
			}
			d.end()
			return nil
		}
		d.recs, err = d.r.sharedRecords().get(d.changes, d.recs[:0])
		if err != nil {
			d.r.log.Error("subscription: reading changed records", "err", err)
			d.st.drop(CloseTryAgainLater, internalMessage, CodeInternal)
			d.end()
			return nil
		}
		for _, sr := range d.recs {
			if rec, ok := sr.rec.(*R); ok && d.match(rec) {
				d.queue = append(d.queue, sr)
			}
		}
		d.changes, d.recs = shrink(d.changes), shrink(d.recs)
	}
	sr := d.queue[d.head]
	d.head++
	resp := sr.response(ctx, d.key, func() *graphql.Response {
		select { // a record gqlgen did not take (its context ended)
		case <-d.ch:
		default:
		}
		d.ch <- sr.rec.(*R) // buffered: next takes it at once
		return next(ctx)
	})
	if resp != nil {
		d.sub.Delivered(1)
	}
	return resp
}

// shrink empties s for reuse, or drops it when a burst has made it large:
// an idle subscription keeps little.
func shrink[T any](s []T) []T {
	if cap(s) > 16 {
		return nil
	}
	clear(s)
	return s[:0]
}

func (d *delivery[R]) end() {
	d.ended = true
	d.stop()
	d.sub.Close()
}
