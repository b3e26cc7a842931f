package graph

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

// Query and request limits. Every one of them is reported with the code
// COMPLEXITY_LIMIT_EXCEEDED (a too-large body: BAD_USER_INPUT, HTTP 413):
// the query is valid, but asks for too much at once; the message says which
// limit and by how much, so the client can split or narrow it.
//
//   - Cost (Config.MaxComplexity): roughly the number of records an
//     operation may return. A connection costs its page size (first or last,
//     else 20; capped at MaxPageSize) times what each record's selection
//     costs; an object (a record, pageInfo, statistics, an edge) costs 1
//     plus its selection; scalars cost 0; nodes(ids) costs len(ids) times
//     the selection, _entities len(representations) times. The cost is
//     computed after validation, with the request's variables.
//   - Depth (Config.MaxDepth): nesting of field selections, fragments
//     expanded; a root field is depth 1. Introspection (__schema, __type)
//     counts as one level: gqlparser bounds its own nesting.
//   - Aliases (Config.MaxAliases) and root fields (Config.MaxRootFields)
//     per operation, fragments expanded.
//   - Fixed bounds against documents that are cheap to send but expensive
//     to validate (gqlparser's overlapping-fields rule is quadratic in the
//     fields sharing a response name and in the fragments of a selection
//     set): at most maxFields field selections per operation with every
//     fragment spread expanded, maxRepeats fields of one response name in
//     one selection set and maxFragments fragment definitions per document.
//
// Depth, aliases, root fields and the fixed bounds are checked on the parsed
// document before validation (documents already in the query cache passed
// them), so an adversarial document costs one linear pass.

// Defaults of Config's limits.
const (
	DefaultMaxComplexity  = 100_000
	DefaultMaxDepth       = 15
	DefaultMaxAliases     = 500
	DefaultMaxRootFields  = 50
	DefaultMaxBodyBytes   = 1 << 20
	DefaultRequestTimeout = 30 * time.Second
)

// Fixed document bounds (see above).
const (
	maxFields    = 10_000
	maxRepeats   = 20
	maxFragments = 100
)

// satCap is where the cost and field counts stop growing: far above every
// limit, far below overflow.
const satCap = math.MaxInt64 >> 2

func satAdd(a, b int) int {
	if a < 0 || b < 0 || a >= satCap-b {
		return satCap
	}
	return a + b
}

func satMul(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a >= satCap/b {
		return satCap
	}
	return a * b
}

func limitError(pos *ast.Position, ext map[string]any, format string, args ...any) *gqlerror.Error {
	err := gqlerror.ErrorPosf(pos, format, args...)
	err.Extensions = map[string]any{"code": CodeComplexityLimitExceeded}
	for k, v := range ext {
		err.Extensions[k] = v
	}
	return err
}

// ---------------------------------------------------------------- cost

// complexityRoot prices the schema's fields for complexity.Calculate (see
// the cost rule above). Fields without a function here keep gqlgen's
// default, 1 + the cost of their selection, and scalars cost 0
// (complexity.WithFixedScalarValue(0) in costLimit). gqlgen ignores a
// function's result below 1 and uses the default instead.
func complexityRoot(maxPageSize int) generated.ComplexityRoot {
	page := func(first, last *int) int {
		n := storage.DefaultPageSize
		switch {
		case first != nil && last != nil:
			n = max(*first, *last)
		case first != nil:
			n = *first
		case last != nil:
			n = *last
		}
		// Out-of-range values fail in the resolver with BAD_USER_INPUT
		// naming the argument; priced at the bound, they do not hide
		// that error behind a cost error.
		return min(max(n, 0), maxPageSize)
	}
	type itemOrder = []*model.BatchOperationItemOrder
	var c generated.ComplexityRoot
	c.Query.Batches = func(child int, first *int, _ *string, last *int, _ *string, _ *storage.BatchFilter, _ []*model.BatchOrder) int {
		return satMul(page(first, last), child)
	}
	c.Query.BatchOperations = func(child int, first *int, _ *string, last *int, _ *string, _ *storage.BatchOperationFilter, _ []*model.BatchOperationOrder) int {
		return satMul(page(first, last), child)
	}
	c.Query.BatchOperationItems = func(child int, first *int, _ *string, last *int, _ *string, _ *storage.BatchOperationItemFilter, _ itemOrder) int {
		return satMul(page(first, last), child)
	}
	c.BatchOperation.Items = func(child int, first *int, _ *string, last *int, _ *string, _ *storage.BatchOperationItemFilter, _ itemOrder) int {
		return satMul(page(first, last), child)
	}
	c.ProcessInstance.BatchOperationItems = func(child int, first *int, _ *string, last *int, _ *string, _ *storage.BatchOperationItemFilter, _ itemOrder) int {
		return satMul(page(first, last), child)
	}
	c.Query.Nodes = func(child int, ids []string) int { return satMul(len(ids), satAdd(1, child)) }
	// An edge is a record: its node (1 + selection) or, with only a
	// cursor, 1.
	edges := func(child int) int { return max(child, 1) }
	c.BatchConnection.Edges = edges
	c.BatchOperationConnection.Edges = edges
	c.BatchOperationItemConnection.Edges = edges
	return c
}

// costSchema prices what complexityRoot cannot reach: federation's
// _entities, whose gqlgen complexity function is not exported, costs one
// selection per representation.
type costSchema struct{ graphql.ExecutableSchema }

func (s costSchema) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if typeName == "Query" && field == "_entities" {
		reps, _ := args["representations"].([]any)
		return satMul(len(reps), satAdd(1, child)), true
	}
	return s.ExecutableSchema.Complexity(ctx, typeName, field, child, args)
}

// costLimit rejects operations that cost more than limit, after validation
// (it needs the variables).
type costLimit struct {
	limit int
	es    graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &costLimit{}

func (*costLimit) ExtensionName() string { return "CostLimit" }

func (c *costLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = costSchema{es}
	return nil
}

func (c *costLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	cost := complexity.Calculate(ctx, c.es, oc.Operation, oc.Variables, complexity.WithFixedScalarValue(0))
	if cost <= c.limit {
		return nil
	}
	return limitError(oc.Operation.Position, map[string]any{"cost": cost, "limit": c.limit},
		"the query costs %s, more than the limit of %d: a connection costs its page size (first or last, else %d) "+
			"and a list of ids its length, times the cost of what it selects per record, "+
			"so ask for smaller pages, fewer ids or fewer nested connections",
		count(cost), c.limit, storage.DefaultPageSize)
}

// ---------------------------------------------------------------- shape

// queryLimits checks depth, aliases, root fields and the fixed document
// bounds on the parsed document, before the executor validates it.
type queryLimits struct {
	maxDepth, maxAliases, maxRootFields int
	// cache is the executor's query cache: a document found there was
	// checked before it was validated and stored.
	cache graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = queryLimits{}

func (queryLimits) ExtensionName() string                   { return "QueryLimits" }
func (queryLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l queryLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil
	}
	if _, ok := l.cache.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: p.Query})
	if err != nil {
		return nil // the executor parses it again and reports the error
	}
	return l.check(doc)
}

// check checks every operation of the document (the one that runs is
// chosen later, and the checked document is cached for all of them).
func (l queryLimits) check(doc *ast.QueryDocument) *gqlerror.Error {
	if n := len(doc.Fragments); n > maxFragments {
		return limitError(doc.Fragments[maxFragments].Position, map[string]any{"limit": maxFragments},
			"the document defines %d fragments, more than the limit of %d", n, maxFragments)
	}
	c := &shapeChecker{doc: doc, frags: map[string]*shape{}, visiting: map[string]bool{}}
	for _, op := range doc.Operations {
		s := c.set(op.SelectionSet)
		if c.err != nil {
			return c.err
		}
		name := "the operation"
		if op.Name != "" {
			name = fmt.Sprintf("operation %q", op.Name)
		}
		switch roots := total(s.names); {
		case s.aliases > l.maxAliases:
			return limitError(op.Position, map[string]any{"limit": l.maxAliases},
				"%s uses %s aliases, more than the limit of %d", name, count(s.aliases), l.maxAliases)
		case roots > l.maxRootFields:
			return limitError(op.Position, map[string]any{"limit": l.maxRootFields},
				"%s selects %s root fields, more than the limit of %d: send them in several requests", name, count(roots), l.maxRootFields)
		case s.depth > l.maxDepth:
			return limitError(op.Position, map[string]any{"limit": l.maxDepth},
				"%s is nested %d levels deep, more than the limit of %d", name, s.depth, l.maxDepth)
		case s.fields > maxFields:
			return limitError(op.Position, map[string]any{"limit": maxFields},
				"%s selects %s fields when its fragments are expanded, more than the limit of %d", name, count(s.fields), maxFields)
		}
	}
	return nil
}

// shape is what the limits need of a selection set, fragments expanded:
// counts saturate at satCap (a chain of fragments each spreading the next
// twice expands exponentially).
type shape struct {
	fields  int            // field selections, at every depth
	aliases int            // aliased field selections, at every depth
	depth   int            // levels of fields (0 for an empty set)
	names   map[string]int // fields per response name at this level
}

func (s *shape) add(o *shape) {
	s.fields = satAdd(s.fields, o.fields)
	s.aliases = satAdd(s.aliases, o.aliases)
	s.depth = max(s.depth, o.depth)
}

func total(names map[string]int) int {
	n := 0
	for _, c := range names {
		n = satAdd(n, c)
	}
	return n
}

// shapeChecker computes shapes, each fragment once. A fragment that spreads
// itself (directly or not) contributes nothing on the cycle: validation
// rejects the document afterwards.
type shapeChecker struct {
	doc      *ast.QueryDocument
	frags    map[string]*shape
	visiting map[string]bool
	err      *gqlerror.Error
}

func (c *shapeChecker) set(ss ast.SelectionSet) *shape {
	s := &shape{names: map[string]int{}}
	merge := func(o *shape, pos *ast.Position) {
		s.add(o)
		for name, n := range o.names {
			s.names[name] = satAdd(s.names[name], n)
			c.repeated(name, s.names[name], pos)
		}
	}
	for _, sel := range ss {
		if c.err != nil {
			return s
		}
		switch f := sel.(type) {
		case *ast.Field:
			name := f.Alias
			if name == "" {
				name = f.Name
			}
			s.fields = satAdd(s.fields, 1)
			if f.Alias != "" && f.Alias != f.Name {
				s.aliases = satAdd(s.aliases, 1)
			}
			s.names[name]++
			c.repeated(name, s.names[name], f.Position)
			depth := 1
			if len(f.SelectionSet) > 0 {
				sub := c.set(f.SelectionSet)
				s.fields = satAdd(s.fields, sub.fields)
				s.aliases = satAdd(s.aliases, sub.aliases)
				if f.Name != "__schema" && f.Name != "__type" {
					depth += sub.depth
				}
			}
			s.depth = max(s.depth, depth)
		case *ast.InlineFragment:
			merge(c.set(f.SelectionSet), f.Position)
		case *ast.FragmentSpread:
			merge(c.fragment(f.Name), f.Position)
		}
	}
	return s
}

func (c *shapeChecker) fragment(name string) *shape {
	if s, ok := c.frags[name]; ok {
		return s
	}
	def := c.doc.Fragments.ForName(name)
	if def == nil || c.visiting[name] {
		return &shape{}
	}
	c.visiting[name] = true
	s := c.set(def.SelectionSet)
	delete(c.visiting, name)
	c.frags[name] = s
	return s
}

func (c *shapeChecker) repeated(name string, n int, pos *ast.Position) {
	if n > maxRepeats && c.err == nil {
		c.err = limitError(pos, map[string]any{"limit": maxRepeats},
			"%q is selected %s times in one selection set (fragments expanded), more than the limit of %d",
			name, count(n), maxRepeats)
	}
}

// count renders a saturating count.
func count(n int) string {
	if n >= satCap {
		return "far more"
	}
	return fmt.Sprint(n)
}

// ---------------------------------------------------------------- HTTP

// timeoutKey carries Config.RequestTimeout in a request's context, for the
// error a timed-out resolver reports.
type timeoutKey struct{}

// withHTTPLimits bounds a request's body to maxBody bytes (the POST
// transport answers a longer one with 413) and, when timeout is positive,
// its context to timeout: storage scans check the context, so a request
// that runs too long stops reading and reports COMPLEXITY_LIMIT_EXCEEDED.
func withHTTPLimits(next http.Handler, maxBody int64, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			sendErrorAs(w, negotiate(r.Header.Get("Accept")), http.StatusRequestEntityTooLarge, CodeBadUserInput,
				fmt.Sprintf("the request body is larger than %d bytes", maxBody))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		if timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(context.WithValue(ctx, timeoutKey{}, timeout))
		}
		next.ServeHTTP(w, r)
	})
}

// admit executes at most cap(slots) requests at once (streams share the
// slots per operation: streamAdmission); the others wait for a slot
// until their deadline. On 2 cores more concurrent queries add no
// throughput, only live heap: 64 clients asking 160 KB pages at once pushed
// the heap past the soft memory limit and the GC thrashed (set M: Q1 at 185
// requests/s with 16 clients, 72 with 64).
func admit(next http.Handler, slots chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}: // a free slot is taken whatever the deadline
		default:
			select {
			case slots <- struct{}{}:
			case <-r.Context().Done():
				if errors.Is(r.Context().Err(), context.DeadlineExceeded) {
					sendErrorAs(w, negotiate(r.Header.Get("Accept")), http.StatusServiceUnavailable, CodeComplexityLimitExceeded,
						"the server was busy for longer than the request time limit: retry later")
				}
				return // the client went away: nobody to answer
			}
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, r)
	})
}

// timeoutError is what a field reports when the request's deadline passed
// while it read: ok is false when ctx carries no request timeout.
func timeoutError(ctx context.Context, orig *gqlerror.Error) (*gqlerror.Error, bool) {
	d, ok := ctx.Value(timeoutKey{}).(time.Duration)
	if !ok {
		return nil, false
	}
	out := &gqlerror.Error{
		Message: fmt.Sprintf("the request took longer than the server's limit of %s and was stopped: "+
			"narrow the filters or ask for smaller pages", d),
		Extensions: map[string]any{"code": CodeComplexityLimitExceeded},
	}
	if orig != nil {
		out.Path, out.Locations = orig.Path, orig.Locations
	}
	return out, true
}

// contextEnded is the error of a request whose context ended before its
// operation ran: its time limit, else (the client went away) an internal
// error.
func contextEnded(ctx context.Context) *gqlerror.Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if err, ok := timeoutError(ctx, nil); ok {
			return err
		}
	}
	return &gqlerror.Error{Message: internalMessage, Extensions: map[string]any{"code": CodeInternal}}
}
