package storage

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// index is one bbolt bucket of keys. A secondary index key is the encoded
// values of its fields followed by the record's primary key (value‖key), with
// an empty value; the primary index is the record bucket itself, keyed by the
// encoded natural key.
type index struct {
	name    string
	bucket  []byte
	fields  []string
	primary bool
}

// kind describes one record type to the generic query engine.
type kind[R any] struct {
	name     string
	conn     byte // connection id carried in cursors
	pkFields []string
	pk       func(b []byte, r *R) []byte
	encode   func(*R) ([]byte, error)
	decode   func(pk, v []byte) (*R, error)
	validate func(*R) error
	describe func(*R) string
	// fields are the order fields and indexed filter fields, keyed by the
	// GraphQL order enum names, each appending its order-preserving encoding.
	fields map[string]func(b []byte, r *R) []byte
	// selective fields identify few records; an equality on one makes a
	// good index prefix even if the index cannot give the order.
	selective map[string]bool
	// domains are the encoded values of closed enum fields (null included
	// where nullable), so the planner can expand them into ranges.
	domains map[string][][]byte
	indexes []*index // [0] is the primary index
	primary *index
	// counterSets are the field sets with a stored count per value
	// combination (the empty set is the total), kept in the write txn.
	counterSets [][]string
	tag         string // counter name prefix
	feed        Kind   // its name in the change feed (feed.go)
}

// counterName names the counter of a field set for encoded values vals.
func counterName(tag string, set []string, vals [][]byte) string {
	if len(set) == 0 {
		return tag
	}
	n := tag + "/" + strings.Join(set, ",") + "/"
	for _, v := range vals {
		n += string(v)
	}
	return n
}

// recordCounters lists the counters rec contributes to.
func recordCounters[R any](k *kind[R], rec *R) []string {
	out := make([]string, len(k.counterSets))
	var vals [][]byte
	for i, set := range k.counterSets {
		vals = vals[:0]
		for _, f := range set {
			vals = append(vals, k.fields[f](nil, rec))
		}
		out[i] = counterName(k.tag, set, vals)
	}
	return out
}

func newIndexes(kindName string, primary []string, secondary ...[]string) []*index {
	ixs := []*index{{name: "primary", bucket: []byte(kindName), fields: primary, primary: true}}
	for _, f := range secondary {
		name := fmt.Sprint(f)
		ixs = append(ixs, &index{name: name, bucket: []byte("ix " + kindName + " " + name), fields: f})
	}
	return ixs
}

// key appends the index key of rec (whose encoded primary key is pk).
func indexKey[R any](b []byte, k *kind[R], ix *index, rec *R, pk []byte) []byte {
	if ix.primary {
		return append(b, pk...)
	}
	for _, f := range ix.fields {
		b = k.fields[f](b, rec)
	}
	return append(b, pk...)
}

// pkOf extracts the primary key from an index key.
func pkOf(ix *index, key []byte) ([]byte, error) {
	if ix.primary {
		return key, nil
	}
	rest := key
	for range ix.fields {
		n, err := skipComponent(rest)
		if err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	return rest, nil
}

var errEmptyKey = errors.New("key is empty")

var batchKind = &kind[Batch]{
	name:     "batch",
	conn:     'B',
	pkFields: []string{"BATCH_ID"},
	pk:       func(b []byte, r *Batch) []byte { return appendKey(b, r.BatchID) },
	encode:   func(r *Batch) ([]byte, error) { return encodeBatch(r), nil },
	decode:   func(_, v []byte) (*Batch, error) { return decodeBatch(v) },
	validate: func(r *Batch) error {
		if r.BatchID == "" {
			return fmt.Errorf("batch: id: %w", errEmptyKey)
		}
		return nil
	},
	describe: func(r *Batch) string { return r.BatchID },
	fields: map[string]func([]byte, *Batch) []byte{
		"BATCH_ID":   func(b []byte, r *Batch) []byte { return appendKey(b, r.BatchID) },
		"TYPE":       func(b []byte, r *Batch) []byte { return appendStr(b, r.Type) },
		"TENANT_ID":  func(b []byte, r *Batch) []byte { return appendOptStr(b, r.TenantID) },
		"START_TIME": func(b []byte, r *Batch) []byte { return appendOptTime(b, r.StartTime) },
		"END_TIME":   func(b []byte, r *Batch) []byte { return appendOptTime(b, r.EndTime) },
		// FAILING is Camunda 7's withFailures (failedJobs > 0), Cockpit's
		// main batch filter; not an order field of the API.
		"FAILING": func(b []byte, r *Batch) []byte { return appendBool(b, r.failing()) },
	},
	selective: map[string]bool{"BATCH_ID": true},
	indexes: newIndexes("batches", []string{"BATCH_ID"},
		[]string{"TYPE"}, []string{"TYPE", "START_TIME"},
		// TENANT_ID first: a tenant-scoped list (tenant.go) under each
		// orderBy is one range per visible tenant, merged.
		[]string{"TENANT_ID"}, []string{"TENANT_ID", "TYPE"},
		[]string{"TENANT_ID", "START_TIME"}, []string{"TENANT_ID", "END_TIME"},
		[]string{"START_TIME"}, []string{"END_TIME"},
		[]string{"FAILING", "START_TIME"}, []string{"FAILING", "TYPE", "START_TIME"},
		// withFailures under a tenant scope: one range per visible tenant,
		// merged by START_TIME, with nothing left to check per record.
		// After the FAILING indexes above, so that a query without a scope
		// keeps their plans (the planners take the first of equal plans).
		[]string{"FAILING", "TYPE", "TENANT_ID", "START_TIME"}, []string{"FAILING", "TENANT_ID", "START_TIME"}),
	// TENANT_ID and (TENANT_ID, TYPE) answer the totalCount of a
	// tenant-scoped list, alone or with a type equality (fields in the
	// order of the [TENANT_ID TYPE] index, whose estimate they make exact).
	counterSets: [][]string{{}, {"TYPE"}, {"TENANT_ID"}, {"TENANT_ID", "TYPE"}},
	tag:         "b",
	feed:        KindBatch,
}

var operationKind = &kind[BatchOperation]{
	name:     "batch operation",
	conn:     'O',
	pkFields: []string{"BATCH_OPERATION_KEY"},
	pk:       func(b []byte, r *BatchOperation) []byte { return appendKey(b, r.BatchOperationKey) },
	encode:   encodeOperation,
	decode:   func(_, v []byte) (*BatchOperation, error) { return decodeOperation(v) },
	validate: func(r *BatchOperation) error {
		if r.BatchOperationKey == "" {
			return fmt.Errorf("batch operation: batchOperationKey: %w", errEmptyKey)
		}
		return nil
	},
	describe: func(r *BatchOperation) string { return r.BatchOperationKey },
	fields: map[string]func([]byte, *BatchOperation) []byte{
		"BATCH_OPERATION_KEY": func(b []byte, r *BatchOperation) []byte { return appendKey(b, r.BatchOperationKey) },
		"OPERATION_TYPE":      func(b []byte, r *BatchOperation) []byte { return appendStr(b, string(r.BatchOperationType)) },
		"STATE":               func(b []byte, r *BatchOperation) []byte { return appendStr(b, string(r.State)) },
		"START_DATE":          func(b []byte, r *BatchOperation) []byte { return appendOptTime(b, r.StartDate) },
		"END_DATE":            func(b []byte, r *BatchOperation) []byte { return appendOptTime(b, r.EndDate) },
		"ACTOR_TYPE":          func(b []byte, r *BatchOperation) []byte { return appendOptStr(b, (*string)(r.ActorType)) },
		"ACTOR_ID":            func(b []byte, r *BatchOperation) []byte { return appendOptStr(b, r.ActorID) },
	},
	selective: map[string]bool{"BATCH_OPERATION_KEY": true},
	domains: map[string][][]byte{
		"STATE":          enumDomain(OperationStates, false),
		"OPERATION_TYPE": enumDomain(OperationTypes, false),
		"ACTOR_TYPE":     enumDomain(ActorTypes, true),
	},
	indexes: newIndexes("operations", []string{"BATCH_OPERATION_KEY"},
		[]string{"STATE"}, []string{"STATE", "START_DATE"}, []string{"OPERATION_TYPE"},
		[]string{"OPERATION_TYPE", "START_DATE"}, []string{"START_DATE"}, []string{"END_DATE"},
		[]string{"ACTOR_TYPE"}, []string{"ACTOR_ID"}),
	counterSets: [][]string{{}, {"STATE"}, {"OPERATION_TYPE"}},
	tag:         "o",
	feed:        KindBatchOperation,
}

var itemKind = &kind[BatchOperationItem]{
	name:     "batch operation item",
	conn:     'I',
	pkFields: []string{"BATCH_OPERATION_KEY", "ITEM_KEY"},
	pk: func(b []byte, r *BatchOperationItem) []byte {
		return appendKey(appendKey(b, r.BatchOperationKey), r.ItemKey)
	},
	encode: encodeItem,
	decode: decodeItem,
	validate: func(r *BatchOperationItem) error {
		if r.BatchOperationKey == "" {
			return fmt.Errorf("batch operation item: batchOperationKey: %w", errEmptyKey)
		}
		if r.ItemKey == "" {
			return fmt.Errorf("batch operation item: itemKey: %w", errEmptyKey)
		}
		return nil
	},
	describe: func(r *BatchOperationItem) string { return r.BatchOperationKey + "/" + r.ItemKey },
	fields: map[string]func([]byte, *BatchOperationItem) []byte{
		"BATCH_OPERATION_KEY":       func(b []byte, r *BatchOperationItem) []byte { return appendKey(b, r.BatchOperationKey) },
		"ITEM_KEY":                  func(b []byte, r *BatchOperationItem) []byte { return appendKey(b, r.ItemKey) },
		"PROCESS_INSTANCE_KEY":      func(b []byte, r *BatchOperationItem) []byte { return appendOptKey(b, r.ProcessInstanceKey) },
		"ROOT_PROCESS_INSTANCE_KEY": func(b []byte, r *BatchOperationItem) []byte { return appendOptKey(b, r.RootProcessInstanceKey) },
		"STATE":                     func(b []byte, r *BatchOperationItem) []byte { return appendStr(b, string(r.State)) },
		"PROCESSED_DATE":            func(b []byte, r *BatchOperationItem) []byte { return appendOptTime(b, r.ProcessedDate) },
		"OPERATION_TYPE":            func(b []byte, r *BatchOperationItem) []byte { return appendStr(b, string(r.OperationType)) },
	},
	selective: map[string]bool{
		"BATCH_OPERATION_KEY": true, "ITEM_KEY": true,
		"PROCESS_INSTANCE_KEY": true, "ROOT_PROCESS_INSTANCE_KEY": true,
	},
	domains: map[string][][]byte{"STATE": enumDomain(ItemStates, false)},
	indexes: newIndexes("items", []string{"BATCH_OPERATION_KEY", "ITEM_KEY"},
		[]string{"BATCH_OPERATION_KEY", "STATE"},
		[]string{"BATCH_OPERATION_KEY", "STATE", "PROCESSED_DATE"},
		[]string{"BATCH_OPERATION_KEY", "PROCESS_INSTANCE_KEY"},
		[]string{"ITEM_KEY"}, []string{"PROCESS_INSTANCE_KEY"}, []string{"ROOT_PROCESS_INSTANCE_KEY"},
		[]string{"STATE"}, []string{"PROCESSED_DATE"}),
	counterSets: [][]string{{}, {"STATE"}, {"BATCH_OPERATION_KEY"}, {"BATCH_OPERATION_KEY", "STATE"}},
	tag:         "i",
	feed:        KindItem,
}

// enumDomain encodes every value of an enum, in key order.
func enumDomain[E ~string](list []E, nullable bool) [][]byte {
	var out [][]byte
	for _, v := range list {
		out = append(out, appendStr(nil, string(v)))
	}
	if nullable {
		out = append(out, []byte{tagNull})
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// allIndexes lists every kind's indexes, for creating the buckets.
var allIndexes = [][]*index{batchKind.indexes, operationKind.indexes, itemKind.indexes}

func init() {
	batchKind.primary = batchKind.indexes[0]
	operationKind.primary = operationKind.indexes[0]
	itemKind.primary = itemKind.indexes[0]
}
