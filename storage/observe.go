package storage

import (
	"context"
	"strconv"
	"strings"
)

// Query observation, for tracing: a caller that wants to know what the
// engine did for a query puts a QueryObserver in the context with
// WithQueryObserver; the engine then reports each connection query (its
// kind, the plan it chose and how many keys it read). Without an observer
// the engine pays one context lookup a query.

// QueryObserver is told of each connection query the engine runs.
type QueryObserver interface {
	// StartQuery is called when a query of kind ("batch", "batch
	// operation", "batch operation item") starts; the engine calls done
	// once when it ends.
	StartQuery(ctx context.Context, kind string) (done func(QueryStats, error))
}

// QueryStats describe one query the engine ran.
type QueryStats struct {
	// Plan names the index the query scanned and how, e.g.
	// "index state,createTime ordered, 2 ranges" (empty when the query
	// read nothing: a filter that matches no record, a bad argument).
	Plan string
	// KeysRead is the number of index (or record) keys the scans read,
	// including the probes for hasPreviousPage/hasNextPage.
	KeysRead int
	// Counted tells that totalCount was computed.
	Counted bool
}

type observerKey struct{}

// WithQueryObserver returns a context whose queries are reported to o.
func WithQueryObserver(ctx context.Context, o QueryObserver) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

type statsKey struct{}

// observeQuery starts observing a query of kind k when ctx holds an
// observer: it returns the context for the query's scans (the scans count
// into it), the stats to fill and the function to call at the end; nil
// stats and end when there is no observer.
func observeQuery(ctx context.Context, kind string) (context.Context, *QueryStats, func(*QueryStats, error)) {
	o, _ := ctx.Value(observerKey{}).(QueryObserver)
	if o == nil {
		return ctx, nil, nil
	}
	done := o.StartQuery(ctx, kind)
	st := &QueryStats{}
	return context.WithValue(ctx, statsKey{}, st), st, func(st *QueryStats, err error) { done(*st, err) }
}

// observedStats are the stats of the query ctx belongs to, nil when it is
// not observed: the scans count the keys they read into them. (A wrapper
// around the scan's visit function would make every visit function escape:
// one allocation a query, observed or not.)
func observedStats(ctx context.Context) *QueryStats {
	st, _ := ctx.Value(statsKey{}).(*QueryStats)
	return st
}

// describe names a plan for QueryStats.Plan.
func (p *plan[R]) describe() string {
	var b strings.Builder
	b.WriteString("index ")
	b.WriteString(p.ix.name)
	if p.ordered {
		b.WriteString(" ordered")
	} else {
		b.WriteString(" sorted")
	}
	if p.desc {
		b.WriteString(" descending")
	}
	if n := len(p.prefixes); n > 1 {
		b.WriteString(", " + strconv.Itoa(n) + " ranges")
	}
	if len(p.residual) > 0 {
		b.WriteString(", " + strconv.Itoa(len(p.residual)) + " residual filters")
	}
	return b.String()
}
