package graph

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph/model"
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
	switch fc.Object {
	case "BatchOperationItemConnection":
		return fastList(ctx, x.r, next, fc, itemSpec, itemEdgeSpec)
	case "BatchOperationConnection":
		return fastList(ctx, x.r, next, fc, operationSpec, operationEdgeSpec)
	case "BatchConnection":
		return fastList(ctx, x.r, next, fc, batchSpec, batchEdgeSpec)
	}
	return next(ctx)
}

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
		if edges, isOps := any(v).([]storage.Edge[opRec]); isOps {
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

// spec describes an object type to the fast path.
type spec[T any] struct {
	name string
	// satisfies is what gqlgen's CollectFields matches fragments against:
	// the type, its interfaces and its unions (the generated
	// xxxImplementors lists).
	satisfies []string
	// field returns the writer of a field of the type, or false when the
	// fast path cannot write it.
	field func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *T), bool)
}

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
			var ok bool
			if value, ok = s.field(c, f); !ok {
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

func edgeSpec[T any](name string, node *spec[T]) *spec[storage.Edge[T]] {
	return &spec[storage.Edge[T]]{name: name, satisfies: []string{name},
		field: func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *storage.Edge[T]), bool) {
			switch f.Name {
			case "cursor":
				return func(w *jsonWriter, e *storage.Edge[T]) { w.str(e.Cursor()) }, true
			case "node":
				return object(c, f, node, func(e *storage.Edge[T]) *T { return e.Node })
			}
			return nil, false
		}}
}

type (
	item     = storage.BatchOperationItem
	opRec    = storage.BatchOperation
	batch    = storage.Batch
	opError  = storage.BatchOperationError
	stats    = storage.BatchStatistics
	itemPage = storage.Page[item]
)

var (
	itemEdgeSpec      = edgeSpec("BatchOperationItemEdge", itemSpec)
	operationEdgeSpec = edgeSpec("BatchOperationEdge", operationSpec)
	batchEdgeSpec     = edgeSpec("BatchEdge", batchSpec)
)

var itemSpec = &spec[item]{name: "BatchOperationItem", satisfies: []string{"BatchOperationItem", "Node", "_Entity"},
	field: func(_ *compiler, f graphql.CollectedField) (func(*jsonWriter, *item), bool) {
		switch f.Name {
		case "id":
			return func(w *jsonWriter, it *item) { w.b = globalid.AppendItem(w.b, it.BatchOperationKey, it.ItemKey) }, true
		case "batchOperationKey":
			return func(w *jsonWriter, it *item) { w.str(it.BatchOperationKey) }, true
		case "itemKey":
			return func(w *jsonWriter, it *item) { w.str(it.ItemKey) }, true
		case "operationType":
			return func(w *jsonWriter, it *item) { w.str(string(it.OperationType)) }, true
		case "processInstanceKey":
			return func(w *jsonWriter, it *item) { w.optStr(it.ProcessInstanceKey) }, true
		case "rootProcessInstanceKey":
			return func(w *jsonWriter, it *item) { w.optStr(it.RootProcessInstanceKey) }, true
		case "state":
			return func(w *jsonWriter, it *item) { w.str(string(it.State)) }, true
		case "processedDate":
			return func(w *jsonWriter, it *item) { w.time(it.ProcessedDate) }, true
		case "errorMessage":
			return func(w *jsonWriter, it *item) { w.optStr(it.ErrorMessage) }, true
		}
		return nil, false // batchOperation, processInstance, rootProcessInstance: resolvers
	}}

var operationSpec = &spec[opRec]{name: "BatchOperation", satisfies: []string{"BatchOperation", "Node", "_Entity"},
	field: func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *opRec), bool) {
		switch f.Name {
		case "id":
			return func(w *jsonWriter, o *opRec) { w.b = globalid.AppendOperation(w.b, o.BatchOperationKey) }, true
		case "batchOperationKey":
			return func(w *jsonWriter, o *opRec) { w.str(o.BatchOperationKey) }, true
		case "batchOperationType":
			return func(w *jsonWriter, o *opRec) { w.str(string(o.BatchOperationType)) }, true
		case "state":
			return func(w *jsonWriter, o *opRec) { w.str(string(o.State)) }, true
		case "startDate":
			return func(w *jsonWriter, o *opRec) { w.time(o.StartDate) }, true
		case "endDate":
			return func(w *jsonWriter, o *opRec) { w.time(o.EndDate) }, true
		case "actorType":
			return func(w *jsonWriter, o *opRec) { w.optStr((*string)(o.ActorType)) }, true
		case "actorId":
			return func(w *jsonWriter, o *opRec) { w.optStr(o.ActorID) }, true
		case "operationsTotalCount":
			return func(w *jsonWriter, o *opRec) { w.int(o.OperationsTotalCount) }, true
		case "operationsFailedCount":
			return func(w *jsonWriter, o *opRec) { w.int(o.OperationsFailedCount) }, true
		case "operationsCompletedCount":
			return func(w *jsonWriter, o *opRec) { w.int(o.OperationsCompletedCount) }, true
		case "errors":
			p, ok := compile(c, f.Selections, errorSpec)
			if !ok {
				return nil, false
			}
			return func(w *jsonWriter, o *opRec) {
				writeList(w, len(o.Errors), func(i int) { p.write(w, &o.Errors[i]) })
			}, true
		case "items":
			items, ok := c.itemsArgs(f)
			if !ok {
				return nil, false
			}
			p, ok := compile(c, f.Selections, itemConnectionSpec)
			if !ok {
				return nil, false
			}
			c.items = append(c.items, items)
			return func(w *jsonWriter, o *opRec) { p.write(w, items.pages[o]) }, true
		}
		return nil, false
	}}

// itemConnectionSpec is BatchOperationItemConnection, for BatchOperation.items.
var itemConnectionSpec = &spec[itemPage]{name: "BatchOperationItemConnection", satisfies: []string{"BatchOperationItemConnection"},
	field: func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *itemPage), bool) {
		switch f.Name {
		case "totalCount":
			return func(w *jsonWriter, p *itemPage) { w.int(p.TotalCount) }, true
		case "pageInfo":
			return object(c, f, pageInfoSpec, func(p *itemPage) *itemPage { return p })
		case "nodes":
			p, ok := compile(c, f.Selections, itemSpec)
			if !ok {
				return nil, false
			}
			return func(w *jsonWriter, pg *itemPage) {
				writeList(w, len(pg.Edges), func(i int) { p.write(w, pg.Edges[i].Node) })
			}, true
		case "edges":
			p, ok := compile(c, f.Selections, itemEdgeSpec)
			if !ok {
				return nil, false
			}
			return func(w *jsonWriter, pg *itemPage) {
				writeList(w, len(pg.Edges), func(i int) { p.write(w, &pg.Edges[i]) })
			}, true
		}
		return nil, false
	}}

// pageInfoSpec is PageInfo, read from the page (model.NewPageInfo).
var pageInfoSpec = &spec[itemPage]{name: "PageInfo", satisfies: []string{"PageInfo"},
	field: func(_ *compiler, f graphql.CollectedField) (func(*jsonWriter, *itemPage), bool) {
		switch f.Name {
		case "hasNextPage":
			return func(w *jsonWriter, p *itemPage) { w.bool(p.HasNextPage) }, true
		case "hasPreviousPage":
			return func(w *jsonWriter, p *itemPage) { w.bool(p.HasPreviousPage) }, true
		case "startCursor":
			return func(w *jsonWriter, p *itemPage) { w.optStr(p.StartCursor()) }, true
		case "endCursor":
			return func(w *jsonWriter, p *itemPage) { w.optStr(p.EndCursor()) }, true
		}
		return nil, false
	}}

func writeList(w *jsonWriter, n int, elem func(i int)) {
	w.b = append(w.b, '[')
	for i := range n {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		elem(i)
	}
	w.b = append(w.b, ']')
}

var errorSpec = &spec[opError]{name: "BatchOperationError", satisfies: []string{"BatchOperationError"},
	field: func(_ *compiler, f graphql.CollectedField) (func(*jsonWriter, *opError), bool) {
		switch f.Name {
		case "partitionId":
			return func(w *jsonWriter, e *opError) { w.int(e.PartitionID) }, true
		case "type":
			return func(w *jsonWriter, e *opError) { w.str(string(e.Type)) }, true
		case "message":
			return func(w *jsonWriter, e *opError) { w.str(e.Message) }, true
		}
		return nil, false
	}}

var batchSpec = &spec[batch]{name: "Batch", satisfies: []string{"Batch", "Node", "_Entity"},
	field: func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *batch), bool) {
		switch f.Name {
		case "id":
			return func(w *jsonWriter, b *batch) { w.b = globalid.AppendBatch(w.b, b.BatchID) }, true
		case "batchId":
			return func(w *jsonWriter, b *batch) { w.str(b.BatchID) }, true
		case "type":
			return func(w *jsonWriter, b *batch) { w.str(b.Type) }, true
		case "totalJobs":
			return func(w *jsonWriter, b *batch) { w.int(b.TotalJobs) }, true
		case "jobsCreated":
			return func(w *jsonWriter, b *batch) { w.optInt(b.JobsCreated) }, true
		case "batchJobsPerSeed":
			return func(w *jsonWriter, b *batch) { w.optInt(b.BatchJobsPerSeed) }, true
		case "invocationsPerBatchJob":
			return func(w *jsonWriter, b *batch) { w.optInt(b.InvocationsPerBatchJob) }, true
		case "seedJobDefinitionId":
			return func(w *jsonWriter, b *batch) { w.optStr(b.SeedJobDefinitionID) }, true
		case "monitorJobDefinitionId":
			return func(w *jsonWriter, b *batch) { w.optStr(b.MonitorJobDefinitionID) }, true
		case "batchJobDefinitionId":
			return func(w *jsonWriter, b *batch) { w.optStr(b.BatchJobDefinitionID) }, true
		case "suspended":
			return func(w *jsonWriter, b *batch) { w.bool(b.Suspended) }, true
		case "tenantId":
			return func(w *jsonWriter, b *batch) { w.optStr(b.TenantID) }, true
		case "createUserId":
			return func(w *jsonWriter, b *batch) { w.optStr(b.CreateUserID) }, true
		case "startTime":
			return func(w *jsonWriter, b *batch) { w.time(b.StartTime) }, true
		case "executionStartTime":
			return func(w *jsonWriter, b *batch) { w.time(b.ExecutionStartTime) }, true
		case "endTime":
			return func(w *jsonWriter, b *batch) { w.time(b.EndTime) }, true
		case "removalTime":
			return func(w *jsonWriter, b *batch) { w.time(b.RemovalTime) }, true
		case "completed":
			return func(w *jsonWriter, b *batch) { w.bool(b.Completed()) }, true
		case "statistics":
			return object(c, f, statsSpec, func(b *batch) *stats { return b.Statistics })
		}
		return nil, false
	}}

var statsSpec = &spec[stats]{name: "BatchStatistics", satisfies: []string{"BatchStatistics"},
	field: func(_ *compiler, f graphql.CollectedField) (func(*jsonWriter, *stats), bool) {
		switch f.Name {
		case "remainingJobs":
			return func(w *jsonWriter, s *stats) { w.int(s.RemainingJobs) }, true
		case "completedJobs":
			return func(w *jsonWriter, s *stats) { w.int(s.CompletedJobs) }, true
		case "failedJobs":
			return func(w *jsonWriter, s *stats) { w.int(s.FailedJobs) }, true
		}
		return nil, false
	}}

// jsonWriter appends values in gqlgen's output format.
type jsonWriter struct{ b []byte }

const hexDigits = "0123456789ABCDEF" // gqlgen writes \u001F, not \u001f

// str writes s quoted as gqlgen's MarshalString does: \t \r \n \\ \" and
// \u00XX (upper case) for the other control characters; everything else as is.
func (w *jsonWriter) str(s string) *jsonWriter {
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		w.b = append(w.b, s[start:i]...)
		switch c {
		case '\t':
			w.b = append(w.b, `\t`...)
		case '\r':
			w.b = append(w.b, `\r`...)
		case '\n':
			w.b = append(w.b, `\n`...)
		case '\\':
			w.b = append(w.b, `\\`...)
		case '"':
			w.b = append(w.b, `\"`...)
		default:
			w.b = append(w.b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	w.b = append(append(w.b, s[start:]...), '"')
	return w
}

func (w *jsonWriter) optStr(s *string) {
	if s == nil {
		w.null()
		return
	}
	w.str(*s)
}

func (w *jsonWriter) int(v int) { w.b = strconv.AppendInt(w.b, int64(v), 10) }

func (w *jsonWriter) optInt(v *int) {
	if v == nil {
		w.null()
		return
	}
	w.int(*v)
}

func (w *jsonWriter) bool(v bool) { w.b = strconv.AppendBool(w.b, v) }

func (w *jsonWriter) time(t *time.Time) {
	if t == nil {
		w.null()
		return
	}
	w.b = model.AppendDateTime(w.b, *t)
}

func (w *jsonWriter) null() { w.b = append(w.b, "null"...) }
