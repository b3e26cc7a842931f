package graph

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/batchql/batchql/storage"
)

// fastLists writes the record lists of the connections (nodes and edges)
// itself when their selections hold only data fields.
//
// gqlgen executes every field of every object through its resolver
// pipeline (a field context, a middleware closure, a marshaler value: about
// 18 allocations a scalar) and every element of a list in a goroutine of its
// own, whose stack then grows. A page of 100 items with ten fields is a
// thousand such executions: 80% of the CPU of a Q2 request, against 7–12%
// for reading the page from bbolt.
//
// The shortcut is taken after the list's own resolver ran, through gqlgen's
// documented escape hatch: a field middleware may return a
// graphql.Marshaler, which gqlgen then writes as the field's value. Fields
// are collected by gqlgen's own CollectFields (fragments, aliases, @skip,
// @include, merging), and values are written in gqlgen's format. Anything
// else in the selection (a resolver field such as batchOperation, @defer)
// leaves the list to gqlgen. BatchOperation.items is the one resolver field
// written here, when given first/after/last/before only: its pages are
// taken, before anything is written, from their owner (itemPages, which
// gqlgen's batch resolver asks too), for all operations of the list in one
// read transaction; any error (a bad argument, a garbled cursor) hands the
// list back to gqlgen, which reports it. fastlist_test.go compares the two
// outputs byte for byte.
type fastLists struct {
	r *Resolver // nil: BatchOperation.items is left to gqlgen
}

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = fastLists{}

func (fastLists) ExtensionName() string                   { return "FastLists" }
func (fastLists) Validate(graphql.ExecutableSchema) error { return nil }

func (x fastLists) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if name := fc.Field.Name; name != "nodes" && name != "edges" {
		return next(ctx)
	}
	if c, ok := connections[fc.Object]; ok {
		return c.list(ctx, x.r, next, fc)
	}
	return next(ctx)
}

// connections are the connection types whose nodes and edges lists the
// fast path writes, by schema name.
var connections = map[string]listWriter{
	"BatchOperationItemConnection": connection[item]{itemSpec, itemEdgeSpec},
	"BatchOperationConnection":     connection[opRec]{operationSpec, operationEdgeSpec},
	"BatchConnection":              connection[batch]{batchSpec, batchEdgeSpec},
}

type listWriter interface {
	list(ctx context.Context, r *Resolver, next graphql.Resolver, fc *graphql.FieldContext) (any, error)
	tables() (node, edge fieldTable)
}

// connection is a connection's node and edge types.
type connection[T any] struct {
	node *spec[T]
	edge *spec[storage.Edge[T]]
}

func (c connection[T]) list(ctx context.Context, r *Resolver, next graphql.Resolver, fc *graphql.FieldContext) (any, error) {
	return fastList(ctx, r, next, fc, c.node, c.edge)
}

func (c connection[T]) tables() (node, edge fieldTable) { return c.node, c.edge }

func fastList[T any](ctx context.Context, r *Resolver, next graphql.Resolver, fc *graphql.FieldContext, node *spec[T], edge *spec[storage.Edge[T]]) (any, error) {
	res, err := next(ctx)
	if err != nil {
		return res, err
	}
	c := &compiler{oc: graphql.GetOperationContext(ctx), r: r}
	var ops []*opRec // the operations whose items the list selects
	var out graphql.Marshaler
	switch v := res.(type) {
	case []*T:
		p, ok := compile(c, fc.Field.Selections, node)
		if !ok {
			return res, nil
		}
		ops, _ = any(v).([]*opRec)
		out = listMarshaler(len(v), func(w *jsonWriter, i int) { p.write(w, v[i]) })
	case []storage.Edge[T]:
		p, ok := compile(c, fc.Field.Selections, edge)
		if !ok {
			return res, nil
		}
		if edges, isOps := any(v).([]storage.Edge[opRec]); isOps && len(c.items) > 0 {
			ops = make([]*opRec, 0, len(edges))
			for _, e := range edges {
				ops = append(ops, e.Node)
			}
		}
		out = listMarshaler(len(v), func(w *jsonWriter, i int) { p.write(w, &v[i]) })
	default:
		return res, nil
	}
	if len(c.items) > 0 && c.readItems(ctx, ops) != nil {
		return res, nil // gqlgen resolves the items again and reports the error
	}
	countFastList()
	return out, nil
}

// compiler carries what compiling a selection needs, and collects the
// BatchOperation.items fields to read before writing.
type compiler struct {
	oc    *graphql.OperationContext
	r     *Resolver
	items []*itemsField
}

// itemsField is one BatchOperation.items selection (aliases make several)
// with its page of every operation of the list.
type itemsField struct {
	args  itemsArgs
	pages map[*opRec]*storage.Page[item]
}

// readItems asks the items' owner (itemPages, which gqlgen's batch resolver
// asks too) for the pages of the operations: each selection's pages of all
// operations in one read transaction.
func (c *compiler) readItems(ctx context.Context, ops []*opRec) error {
	keys := operationKeys(ops)
	for _, f := range c.items {
		pages, err := c.r.itemPages(ctx, operationScope, keys, f.args)
		if err != nil {
			return err
		}
		for i, o := range ops {
			f.pages[o] = pages[i]
		}
	}
	return nil
}

// itemsArgs compiles BatchOperation.items when its arguments are paging
// ones only (filter and orderBy stay with gqlgen); itemPages checks them.
func (c *compiler) itemsArgs(f graphql.CollectedField) (*itemsField, bool) {
	if c.r == nil {
		return nil, false
	}
	a := itemsArgs{count: selectsTotalCount(c.oc, f.Selections)}
	for name, v := range f.ArgumentMap(c.oc.Variables) {
		if v == nil {
			continue
		}
		var ok bool
		switch name {
		case "first":
			a.first, ok = intArg(v)
		case "last":
			a.last, ok = intArg(v)
		case "after":
			a.after, ok = strArg(v)
		case "before":
			a.before, ok = strArg(v)
		}
		if !ok {
			return nil, false
		}
	}
	return &itemsField{args: a, pages: map[*opRec]*storage.Page[item]{}}, true
}

func intArg(v any) (*int, bool) {
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case int:
		n = int64(v)
	case json.Number:
		var err error
		if n, err = v.Int64(); err != nil {
			return nil, false
		}
	default:
		return nil, false
	}
	i := int(n)
	return &i, int64(i) == n
}

func strArg(v any) (*string, bool) {
	s, ok := v.(string)
	return &s, ok
}

// fastListsTaken, when a test sets it, counts the lists the fast path wrote.
var fastListsTaken *atomic.Int64

func countFastList() {
	if c := fastListsTaken; c != nil {
		c.Add(1)
	}
}

// listMarshaler writes a JSON array of n elements into one buffer, then
// into gqlgen's response. The buffers are pooled: grown by doubling, they
// were a third of the bytes Q1 allocated.
func listMarshaler(n int, elem func(w *jsonWriter, i int)) graphql.Marshaler {
	return graphql.WriterFunc(func(out io.Writer) {
		w := writers.Get().(*jsonWriter)
		w.b = w.b[:0]
		writeList(w, n, func(i int) { elem(w, i) })
		out.Write(w.b)
		if cap(w.b) <= maxPooledWriter {
			writers.Put(w)
		}
	})
}

const maxPooledWriter = 1 << 20

var writers = sync.Pool{New: func() any { return &jsonWriter{b: make([]byte, 0, 16<<10)} }}

// spec describes an object type to the fast path: its field table.
// fastlist_schema_test.go checks the tables against the schema: a field
// of the schema in neither fields nor resolved fails it.
type spec[T any] struct {
	name string
	// satisfies is what gqlgen's CollectFields matches fragments against:
	// the type, its interfaces and its unions (the generated
	// xxxImplementors lists).
	satisfies []string
	// fields are the writers of the type's fields by schema name.
	fields map[string]field[T]
	// resolved are the fields left to gqlgen: resolvers that read other
	// records. Selecting one leaves the list to gqlgen.
	resolved []string
}

// field compiles a selected field of T into its value writer, or returns
// false when the fast path cannot write it (e.g. unsupported arguments).
type field[T any] func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *T), bool)

// plain is the field of a value written without a selection or arguments.
func plain[T any](write func(*jsonWriter, *T)) field[T] {
	return func(*compiler, graphql.CollectedField) (func(*jsonWriter, *T), bool) { return write, true }
}

// fieldTable is what the schema test reads of a spec.
type fieldTable interface {
	typeName() string
	written() []string      // the fields the fast path writes
	leftToGqlgen() []string // spec.resolved
}

func (s *spec[T]) typeName() string       { return s.name }
func (s *spec[T]) written() []string      { return slices.Sorted(maps.Keys(s.fields)) }
func (s *spec[T]) leftToGqlgen() []string { return s.resolved }

// plan is a compiled selection set: each field's key and value writer.
type plan[T any] []step[T]

type step[T any] struct {
	key   []byte // "alias":
	value func(*jsonWriter, *T)
}

func compile[T any](c *compiler, sel ast.SelectionSet, s *spec[T]) (plan[T], bool) {
	fields := graphql.CollectFields(c.oc, sel, s.satisfies)
	p := make(plan[T], 0, len(fields))
	for i, f := range fields {
		if f.IsDeferred() {
			return nil, false
		}
		if seenAlias(fields[:i], f.Alias) {
			// CollectFields can return an alias twice (__typename in a
			// fragment on a union); gqlgen writes the first only.
			continue
		}
		var value func(*jsonWriter, *T)
		if f.Name == "__typename" {
			name := s.name
			value = func(w *jsonWriter, _ *T) { w.str(name) }
		} else {
			compile, ok := s.fields[f.Name]
			if !ok {
				return nil, false
			}
			if value, ok = compile(c, f); !ok {
				return nil, false
			}
		}
		key := (&jsonWriter{}).str(f.Alias)
		p = append(p, step[T]{key: append(key.b, ':'), value: value})
	}
	return p, true
}

func seenAlias(fields []graphql.CollectedField, alias string) bool {
	for _, f := range fields {
		if f.Alias == alias {
			return true
		}
	}
	return false
}

func (p plan[T]) write(w *jsonWriter, rec *T) {
	w.b = append(w.b, '{')
	for i, s := range p {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, s.key...)
		s.value(w, rec)
	}
	w.b = append(w.b, '}')
}

// object compiles a nested object field whose value get returns (nil:
// null).
func object[T, S any](c *compiler, f graphql.CollectedField, s *spec[S], get func(*T) *S) (func(*jsonWriter, *T), bool) {
	p, ok := compile(c, f.Selections, s)
	if !ok {
		return nil, false
	}
	return func(w *jsonWriter, rec *T) {
		if v := get(rec); v != nil {
			p.write(w, v)
		} else {
			w.null()
		}
	}, true
}
