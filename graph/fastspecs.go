package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/storage"
)

// The fast list path's field tables: for each object type it writes, how
// each field's value is written from the record (fastlist.go).
// fastlist_schema_test.go fails when a field of the schema is in no table.

type (
	item     = storage.BatchOperationItem
	opRec    = storage.BatchOperation
	batch    = storage.Batch
	opError  = storage.BatchOperationError
	stats    = storage.BatchStatistics
	itemPage = storage.Page[item]
)

func edgeSpec[T any](name string, node *spec[T]) *spec[storage.Edge[T]] {
	return &spec[storage.Edge[T]]{name: name, satisfies: []string{name}, fields: map[string]field[storage.Edge[T]]{
		"cursor": plain(func(w *jsonWriter, e *storage.Edge[T]) { w.str(e.Cursor()) }),
		"node": func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *storage.Edge[T]), bool) {
			return object(c, f, node, func(e *storage.Edge[T]) *T { return e.Node })
		},
	}}
}

var (
	itemEdgeSpec      = edgeSpec("BatchOperationItemEdge", itemSpec)
	operationEdgeSpec = edgeSpec("BatchOperationEdge", operationSpec)
	batchEdgeSpec     = edgeSpec("BatchEdge", batchSpec)
)

var itemSpec = &spec[item]{name: "BatchOperationItem", satisfies: []string{"BatchOperationItem", "Node", "_Entity"},
	fields: map[string]field[item]{
		"id":                     plain(func(w *jsonWriter, it *item) { w.b = globalid.AppendItem(w.b, it.BatchOperationKey, it.ItemKey) }),
		"batchOperationKey":      plain(func(w *jsonWriter, it *item) { w.str(it.BatchOperationKey) }),
		"itemKey":                plain(func(w *jsonWriter, it *item) { w.str(it.ItemKey) }),
		"operationType":          plain(func(w *jsonWriter, it *item) { w.str(string(it.OperationType)) }),
		"processInstanceKey":     plain(func(w *jsonWriter, it *item) { w.optStr(it.ProcessInstanceKey) }),
		"rootProcessInstanceKey": plain(func(w *jsonWriter, it *item) { w.optStr(it.RootProcessInstanceKey) }),
		"state":                  plain(func(w *jsonWriter, it *item) { w.str(string(it.State)) }),
		"processedDate":          plain(func(w *jsonWriter, it *item) { w.time(it.ProcessedDate) }),
		"errorMessage":           plain(func(w *jsonWriter, it *item) { w.optStr(it.ErrorMessage) }),
	},
	resolved: []string{"batchOperation", "processInstance", "rootProcessInstance"},
}

var operationSpec = &spec[opRec]{name: "BatchOperation", satisfies: []string{"BatchOperation", "Node", "_Entity"},
	fields: map[string]field[opRec]{
		"id":                       plain(func(w *jsonWriter, o *opRec) { w.b = globalid.AppendOperation(w.b, o.BatchOperationKey) }),
		"batchOperationKey":        plain(func(w *jsonWriter, o *opRec) { w.str(o.BatchOperationKey) }),
		"batchOperationType":       plain(func(w *jsonWriter, o *opRec) { w.str(string(o.BatchOperationType)) }),
		"state":                    plain(func(w *jsonWriter, o *opRec) { w.str(string(o.State)) }),
		"startDate":                plain(func(w *jsonWriter, o *opRec) { w.time(o.StartDate) }),
		"endDate":                  plain(func(w *jsonWriter, o *opRec) { w.time(o.EndDate) }),
		"actorType":                plain(func(w *jsonWriter, o *opRec) { w.optStr((*string)(o.ActorType)) }),
		"actorId":                  plain(func(w *jsonWriter, o *opRec) { w.optStr(o.ActorID) }),
		"operationsTotalCount":     plain(func(w *jsonWriter, o *opRec) { w.int(o.OperationsTotalCount) }),
		"operationsFailedCount":    plain(func(w *jsonWriter, o *opRec) { w.int(o.OperationsFailedCount) }),
		"operationsCompletedCount": plain(func(w *jsonWriter, o *opRec) { w.int(o.OperationsCompletedCount) }),
		"errors": func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *opRec), bool) {
			p, ok := compile(c, f.Selections, errorSpec)
			if !ok {
				return nil, false
			}
			return func(w *jsonWriter, o *opRec) {
				writeList(w, len(o.Errors), func(i int) { p.write(w, &o.Errors[i]) })
			}, true
		},
		"items": func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *opRec), bool) {
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
		},
	},
}

// itemConnectionSpec is BatchOperationItemConnection, for BatchOperation.items.
var itemConnectionSpec = &spec[itemPage]{name: "BatchOperationItemConnection", satisfies: []string{"BatchOperationItemConnection"},
	fields: map[string]field[itemPage]{
		"totalCount": plain(func(w *jsonWriter, p *itemPage) { w.int(p.TotalCount) }),
		"pageInfo": func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *itemPage), bool) {
			return object(c, f, pageInfoSpec, func(p *itemPage) *itemPage { return p })
		},
		"nodes": func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *itemPage), bool) {
			p, ok := compile(c, f.Selections, itemSpec)
			if !ok {
				return nil, false
			}
			return func(w *jsonWriter, pg *itemPage) {
				writeList(w, len(pg.Edges), func(i int) { p.write(w, pg.Edges[i].Node) })
			}, true
		},
		"edges": func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *itemPage), bool) {
			p, ok := compile(c, f.Selections, itemEdgeSpec)
			if !ok {
				return nil, false
			}
			return func(w *jsonWriter, pg *itemPage) {
				writeList(w, len(pg.Edges), func(i int) { p.write(w, &pg.Edges[i]) })
			}, true
		},
	},
}

// pageInfoSpec is PageInfo, read from the page (model.NewPageInfo).
var pageInfoSpec = &spec[itemPage]{name: "PageInfo", satisfies: []string{"PageInfo"},
	fields: map[string]field[itemPage]{
		"hasNextPage":     plain(func(w *jsonWriter, p *itemPage) { w.bool(p.HasNextPage) }),
		"hasPreviousPage": plain(func(w *jsonWriter, p *itemPage) { w.bool(p.HasPreviousPage) }),
		"startCursor":     plain(func(w *jsonWriter, p *itemPage) { w.optStr(p.StartCursor()) }),
		"endCursor":       plain(func(w *jsonWriter, p *itemPage) { w.optStr(p.EndCursor()) }),
	},
}

var errorSpec = &spec[opError]{name: "BatchOperationError", satisfies: []string{"BatchOperationError"},
	fields: map[string]field[opError]{
		"partitionId": plain(func(w *jsonWriter, e *opError) { w.int(e.PartitionID) }),
		"type":        plain(func(w *jsonWriter, e *opError) { w.str(string(e.Type)) }),
		"message":     plain(func(w *jsonWriter, e *opError) { w.str(e.Message) }),
	},
}

var batchSpec = &spec[batch]{name: "Batch", satisfies: []string{"Batch", "Node", "_Entity"},
	fields: map[string]field[batch]{
		"id":                     plain(func(w *jsonWriter, b *batch) { w.b = globalid.AppendBatch(w.b, b.BatchID) }),
		"batchId":                plain(func(w *jsonWriter, b *batch) { w.str(b.BatchID) }),
		"type":                   plain(func(w *jsonWriter, b *batch) { w.str(b.Type) }),
		"totalJobs":              plain(func(w *jsonWriter, b *batch) { w.int(b.TotalJobs) }),
		"jobsCreated":            plain(func(w *jsonWriter, b *batch) { w.optInt(b.JobsCreated) }),
		"batchJobsPerSeed":       plain(func(w *jsonWriter, b *batch) { w.optInt(b.BatchJobsPerSeed) }),
		"invocationsPerBatchJob": plain(func(w *jsonWriter, b *batch) { w.optInt(b.InvocationsPerBatchJob) }),
		"seedJobDefinitionId":    plain(func(w *jsonWriter, b *batch) { w.optStr(b.SeedJobDefinitionID) }),
		"monitorJobDefinitionId": plain(func(w *jsonWriter, b *batch) { w.optStr(b.MonitorJobDefinitionID) }),
		"batchJobDefinitionId":   plain(func(w *jsonWriter, b *batch) { w.optStr(b.BatchJobDefinitionID) }),
		"suspended":              plain(func(w *jsonWriter, b *batch) { w.bool(b.Suspended) }),
		"tenantId":               plain(func(w *jsonWriter, b *batch) { w.optStr(b.TenantID) }),
		"createUserId":           plain(func(w *jsonWriter, b *batch) { w.optStr(b.CreateUserID) }),
		"startTime":              plain(func(w *jsonWriter, b *batch) { w.time(b.StartTime) }),
		"executionStartTime":     plain(func(w *jsonWriter, b *batch) { w.time(b.ExecutionStartTime) }),
		"endTime":                plain(func(w *jsonWriter, b *batch) { w.time(b.EndTime) }),
		"removalTime":            plain(func(w *jsonWriter, b *batch) { w.time(b.RemovalTime) }),
		"completed":              plain(func(w *jsonWriter, b *batch) { w.bool(b.Completed()) }),
		"statistics": func(c *compiler, f graphql.CollectedField) (func(*jsonWriter, *batch), bool) {
			return object(c, f, statsSpec, func(b *batch) *stats { return b.Statistics })
		},
	},
}

var statsSpec = &spec[stats]{name: "BatchStatistics", satisfies: []string{"BatchStatistics"},
	fields: map[string]field[stats]{
		"remainingJobs": plain(func(w *jsonWriter, s *stats) { w.int(s.RemainingJobs) }),
		"completedJobs": plain(func(w *jsonWriter, s *stats) { w.int(s.CompletedJobs) }),
		"failedJobs":    plain(func(w *jsonWriter, s *stats) { w.int(s.FailedJobs) }),
	},
}
