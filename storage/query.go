package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// StringFilter filters an ID or String field. Every given operator must hold
// (AND). In and NotIn: nil means not given; an empty non-nil slice is given
// and empty (In then matches nothing). Neq and NotIn never match null (SQL).
type StringFilter struct {
	Eq     *string
	Neq    *string
	In     []string
	NotIn  []string
	Exists *bool
	Like   *string // '*' any run, '?' one character, '\' escapes
}

// IntFilter filters an Int field; a null field matches no operator.
type IntFilter struct {
	Eq, Neq, Gt, Gte, Lt, Lte *int
}

// DateTimeFilter filters a DateTime field by instant.
type DateTimeFilter struct {
	Eq, Gt, Gte, Lt, Lte *time.Time
	Exists               *bool
}

// Enum filters: one type each so that gqlgen can bind the GraphQL inputs.
type (
	OperationTypeFilter struct {
		Eq, Neq   *OperationType
		In, NotIn []OperationType
	}
	OperationStateFilter struct {
		Eq, Neq   *OperationState
		In, NotIn []OperationState
	}
	ItemStateFilter struct {
		Eq, Neq   *ItemState
		In, NotIn []ItemState
	}
	ActorTypeFilter struct {
		Eq, Neq   *ActorType
		In, NotIn []ActorType
	}
)

// BatchFilter selects Camunda 7 batches.
type BatchFilter struct {
	BatchID      *StringFilter
	Type         *StringFilter
	TenantID     *StringFilter
	CreateUserID *StringFilter
	Suspended    *bool
	Completed    *bool
	StartTime    *DateTimeFilter
	EndTime      *DateTimeFilter
	FailedJobs   *IntFilter // batches without statistics never match
}

// BatchOperationFilter selects Camunda 8 batch operations.
type BatchOperationFilter struct {
	BatchOperationKey     *StringFilter
	OperationType         *OperationTypeFilter
	State                 *OperationStateFilter
	ActorType             *ActorTypeFilter
	ActorID               *StringFilter
	StartDate             *DateTimeFilter
	EndDate               *DateTimeFilter
	HasErrors             *bool
	OperationsFailedCount *IntFilter
}

// BatchOperationItemFilter selects batch operation items.
type BatchOperationItemFilter struct {
	BatchOperationKey      *StringFilter
	ItemKey                *StringFilter
	ProcessInstanceKey     *StringFilter
	RootProcessInstanceKey *StringFilter
	OperationType          *OperationTypeFilter
	State                  *ItemStateFilter
	ProcessedDate          *DateTimeFilter
}

// Order is one orderBy entry. Field is the GraphQL enum value, e.g.
// "START_DATE"; unknown fields are an error naming the value.
type Order struct {
	Field string
	Desc  bool
}

// PageRequest is Relay's first/after or last/before. After and Before are
// cursors as handed out ("" when not given). With neither First nor Last the
// first DefaultPageSize records are returned. Check says what is accepted.
type PageRequest struct {
	First  *int
	Last   *int
	After  string
	Before string
	// Max is the largest First or Last accepted (the server's page size
	// limit); 0 means no limit.
	Max int
}

// DefaultPageSize is the page size when neither first nor last is given.
const DefaultPageSize = 20

// Query is one connection request.
type Query[F any] struct {
	Filter F
	Order  []Order
	Page   PageRequest
	// Count asks for TotalCount; counting is skipped otherwise.
	Count bool
}

type (
	BatchQuery          = Query[BatchFilter]
	BatchOperationQuery = Query[BatchOperationFilter]
	ItemQuery           = Query[BatchOperationItemFilter]
)

// Edge is one record of a page with its cursor.
type Edge[T any] struct {
	Node *T
	src  *cursorSource[T]
}

// Cursor is the edge's cursor. It is made when asked for: most pages are
// read for their records only (a list of operations with ten items each
// encoded 550 cursors and returned two).
func (e Edge[T]) Cursor() string {
	if e.src == nil {
		return ""
	}
	return e.src.cursor(e.Node)
}

// Page is the answer to a Query. StartCursor and EndCursor are the first and
// last edge's cursors. TotalCount is set only when the query asked for it.
type Page[T any] struct {
	Edges           []Edge[T]
	HasNextPage     bool
	HasPreviousPage bool
	TotalCount      int
}

// StartCursor is the cursor of the first edge, or nil on an empty page.
func (p *Page[T]) StartCursor() *string {
	if len(p.Edges) == 0 {
		return nil
	}
	c := p.Edges[0].Cursor()
	return &c
}

// EndCursor is the cursor of the last edge, or nil on an empty page.
func (p *Page[T]) EndCursor() *string {
	if len(p.Edges) == 0 {
		return nil
	}
	c := p.Edges[len(p.Edges)-1].Cursor()
	return &c
}

// Nodes returns the page's records in order.
func (p *Page[T]) Nodes() []*T {
	out := make([]*T, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node
	}
	return out
}

// InputError is bad input to a query: a garbled or foreign cursor, an
// unknown order field, an impossible page size, a bad like pattern. Arg names
// the argument ("after", "orderBy", "filter.state.like", ...). The GraphQL
// layer reports it as BAD_USER_INPUT.
type InputError struct {
	Arg    string
	Value  string
	Reason string
	// Bare shows Value as written, without quotes: a number.
	Bare bool
}

func (e *InputError) Error() string {
	switch {
	case e.Value == "":
		return fmt.Sprintf("argument %q: %s", e.Arg, e.Reason)
	case e.Bare:
		return fmt.Sprintf("argument %q (value %s): %s", e.Arg, e.Value, e.Reason)
	}
	return fmt.Sprintf("argument %q (value %q): %s", e.Arg, e.Value, e.Reason)
}

// IsInputError reports whether err is (or wraps) an *InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// The query API: the connections every caller goes through. runQuery takes
// a request through the stages: filter terms (filter.go), the paging check
// (page.go), cursors (cursor.go), counting (count.go), the plan (plan.go),
// the scan (scan.go) and the page (page.go).

// Batches answers the batches connection.
func (r *Reader) Batches(ctx context.Context, q BatchQuery) (*Page[Batch], error) {
	ts, err := batchTerms(&q.Filter)
	if err != nil {
		return nil, err
	}
	if r.tenants != nil {
		ts = append(ts, tenantTerm(r.tenants))
	}
	return runQuery(ctx, r, batchKind, ts, q.Order, q.Page, q.Count)
}

// BatchOperations answers the batchOperations connection.
func (r *Reader) BatchOperations(ctx context.Context, q BatchOperationQuery) (*Page[BatchOperation], error) {
	ts, err := operationTerms(&q.Filter)
	if err != nil {
		return nil, err
	}
	return runQuery(ctx, r, operationKind, ts, q.Order, q.Page, q.Count)
}

// Items answers the item connections (global and within one operation).
func (r *Reader) Items(ctx context.Context, q ItemQuery) (*Page[BatchOperationItem], error) {
	ts, err := itemTerms(&q.Filter)
	if err != nil {
		return nil, err
	}
	return runQuery(ctx, r, itemKind, ts, q.Order, q.Page, q.Count)
}

// Batches answers the batches connection in one read transaction.
func (s *Store) Batches(ctx context.Context, q BatchQuery) (p *Page[Batch], err error) {
	err = s.View(ctx, func(r *Reader) error { p, err = r.Batches(ctx, q); return err })
	return p, err
}

// BatchOperations answers the batchOperations connection in one read transaction.
func (s *Store) BatchOperations(ctx context.Context, q BatchOperationQuery) (p *Page[BatchOperation], err error) {
	err = s.View(ctx, func(r *Reader) error { p, err = r.BatchOperations(ctx, q); return err })
	return p, err
}

// Items answers an item connection in one read transaction.
func (s *Store) Items(ctx context.Context, q ItemQuery) (p *Page[BatchOperationItem], err error) {
	err = s.View(ctx, func(r *Reader) error { p, err = r.Items(ctx, q); return err })
	return p, err
}

func runQuery[R any](ctx context.Context, r *Reader, k *kind[R], terms []term[R], order []Order, page PageRequest, count bool) (_ *Page[R], err error) {
	ctx, stats, end := observeQuery(ctx, k.name) // observe.go: tracing
	if end != nil {
		stats.Counted = count
		defer func() { end(stats, err) }()
	}
	forward, limit, err := pageArgs(page)
	if err != nil {
		return nil, err
	}
	for _, o := range order {
		if k.fields[o.Field] == nil {
			return nil, &InputError{Arg: "orderBy", Value: o.Field, Reason: "unknown order field"}
		}
	}
	sig := orderSig(order)
	tx := r.tx
	rd := &Reader{tx: tx, lacks: r.lacks}
	var after, before *position
	if page.After != "" {
		if after, err = decodeCursor("after", page.After, k.conn, sig, len(order), len(k.pkFields)); err != nil {
			return nil, err
		}
	}
	if page.Before != "" {
		if before, err = decodeCursor("before", page.Before, k.conn, sig, len(order), len(k.pkFields)); err != nil {
			return nil, err
		}
	}
	res := &Page[R]{}
	conds := condsOf(map[string]*cond{}, terms)
	if matchesNothing(conds) {
		return res, nil // totalCount 0
	}
	if count {
		if res.TotalCount, err = countMatches(ctx, rd, k, terms, conds); err != nil {
			return nil, err
		}
	}
	p := choosePlan(rd, k, terms, conds, order, limit)
	if stats != nil {
		stats.Plan = p.describe()
	}
	var rows []row[R]
	if p.ordered {
		rows, err = orderedPage(ctx, tx, k, p, order, after, before, forward, limit, res)
	} else {
		rows, err = sortedPage(ctx, tx, k, p, order, after, before, forward, limit, res)
	}
	if err != nil {
		return nil, err
	}
	res.Edges = make([]Edge[R], len(rows))
	src := &cursorSource[R]{k: k, order: order, sig: sig}
	for i, rw := range rows {
		res.Edges[i] = Edge[R]{Node: rw.rec, src: src}
	}
	return res, nil
}

// matchesNothing reports a filter that no record can match (`in: []`),
// given its merged conds (condsOf): a tenantId filter outside the reader's
// tenant scope matches nothing too.
func matchesNothing(conds map[string]*cond) bool {
	for _, c := range conds {
		if c.eq != nil && len(c.eq) == 0 {
			return true
		}
	}
	return false
}
