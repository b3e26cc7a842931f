package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/storage"
)

// Subscriptions (contract §10). Each subscription is one changes.Sub and
// one goroutine: it takes the keys of changed records from the Sub (in
// commit order, coalesced), loads them from one fresh snapshot, keeps those
// that match the filter in their new state and hands them to gqlgen, which
// evaluates the selection on them (nested fields read the store later
// still: at or after the commit). The goroutine ends when the client
// unsubscribes or goes away, when the Sub fails (the subscriber fell
// behind: its connection is dropped so that the client starts over), and
// when the hub closes (shutdown).

// deliverBatch is how many changed records a subscriber loads from one
// snapshot.
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
	return subscribe(ctx, r, storage.KindBatchOperation, want, match,
		func(rd *storage.Reader, k storage.Key) (*storage.BatchOperation, error) {
			return rd.BatchOperation(k.ID)
		})
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
	return subscribe(ctx, r, storage.KindBatch, want, match,
		func(rd *storage.Reader, k storage.Key) (*storage.Batch, error) { return rd.Batch(k.ID) })
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
	return subscribe(ctx, r, storage.KindItem, want, match,
		func(rd *storage.Reader, k storage.Key) (*storage.BatchOperationItem, error) {
			return rd.Item(k.ID, k.Item)
		})
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

func subscribe[R any](ctx context.Context, r *Resolver, kind storage.Kind, want changes.Filter,
	match func(*R) bool, load func(*storage.Reader, storage.Key) (*R, error)) (<-chan *R, error) {
	if r.cfg.Subscriptions == nil {
		return nil, &gqlerror.Error{Message: "subscriptions are not enabled on this server",
			Extensions: map[string]any{"code": CodeBadUserInput}}
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
	ch := make(chan *R)
	go func() {
		defer close(ch)
		defer sub.Close()
		var keys []storage.Key
		var recs []*R
		for {
			var err error
			keys, err = sub.Next(ctx.Done(), keys[:0], deliverBatch)
			if err != nil {
				switch {
				case errors.Is(err, changes.ErrOverflow):
					r.log.Warn("subscription dropped", "transport", transport, "err", err)
					st.drop(CloseTryAgainLater, "subscriber fell behind: subscribe again", CodeComplexityLimitExceeded)
				case errors.Is(err, changes.ErrClosed):
					st.drop(CloseGoingAway, "server shutting down", "")
				}
				return
			}
			if ctx.Err() != nil {
				return
			}
			recs = recs[:0]
			err = r.store.View(ctx, func(rd *storage.Reader) error {
				for _, k := range keys {
					rec, err := load(rd, k)
					if err != nil {
						return err
					}
					if rec != nil && match(rec) {
						recs = append(recs, rec)
					}
				}
				return nil
			})
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("subscription: reading changed records", "err", err)
					st.drop(CloseTryAgainLater, "internal server error", CodeInternal)
				}
				return
			}
			for i, rec := range recs {
				select {
				case ch <- rec:
				case <-ctx.Done():
					sub.Delivered(i)
					return
				}
			}
			sub.Delivered(len(recs))
			clear(recs)
		}
	}()
	return ch, nil
}
