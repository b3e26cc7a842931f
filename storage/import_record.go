package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// Records: the known fields, kind detection, validation and merge.

// The fields the importer knows, across all kinds. A record's other fields
// are ignored.
const (
	fID = iota
	fType
	fTotalJobs
	fJobsCreated
	fBatchJobsPerSeed
	fInvocationsPerBatchJob
	fSeedJobDefinitionID
	fMonitorJobDefinitionID
	fBatchJobDefinitionID
	fSuspended
	fTenantID
	fCreateUserID
	fStartTime
	fExecutionStartTime
	fEndTime
	fRemovalTime
	fRemainingJobs
	fCompletedJobs
	fFailedJobs
	fBatchOperationKey
	fBatchOperationType
	fState
	fStartDate
	fEndDate
	fActorType
	fActorID
	fOperationsTotalCount
	fOperationsFailedCount
	fOperationsCompletedCount
	fErrors
	fItemKey
	fOperationType
	fProcessInstanceKey
	fRootProcessInstanceKey
	fProcessedDate
	fErrorMessage
	numFields
)

var fieldNames = [numFields]string{
	"id", "type", "totalJobs", "jobsCreated", "batchJobsPerSeed", "invocationsPerBatchJob",
	"seedJobDefinitionId", "monitorJobDefinitionId", "batchJobDefinitionId", "suspended",
	"tenantId", "createUserId", "startTime", "executionStartTime", "endTime", "removalTime",
	"remainingJobs", "completedJobs", "failedJobs",
	"batchOperationKey", "batchOperationType", "state", "startDate", "endDate", "actorType",
	"actorId", "operationsTotalCount", "operationsFailedCount", "operationsCompletedCount", "errors",
	"itemKey", "operationType", "processInstanceKey", "rootProcessInstanceKey", "processedDate",
	"errorMessage",
}

var fieldIndex = func() map[string]int {
	m := make(map[string]int, numFields)
	for i, n := range fieldNames {
		m[n] = i
	}
	return m
}()

type recKind uint8

const (
	kindNone recKind = iota
	kindBatch
	kindStats
	kindHistoric
	kindOp
	kindItem
)

var kindNames = [...]string{"", KindBatch, KindBatchStats, KindHistoricBatch, KindBatchOperation, KindItem}

// rawRecord is one record split into its known fields: each is the JSON text
// of the value (nil when the field is absent, "null" for JSON null), a
// sub-slice of the scanner's buffer valid until the next record is read.
type rawRecord struct {
	num    int64 // 1-based record number in the file
	line   int64 // line of the record's first byte
	val    [numFields]json.RawMessage
	lines  [numFields]int64 // line of each present field
	spans  [numFields][2]int
	keys   [][2]int // spans of all top-level keys, for messages
	body   []byte   // the whole record
	hasKey uint64
}

func (r *rawRecord) has(f int) bool { return r.hasKey&(1<<f) != 0 }

func (r *rawRecord) fieldLine(f int) int64 {
	if f >= 0 && f < numFields && r.has(f) {
		return r.lines[f]
	}
	return r.line
}

func (r *rawRecord) detect() recKind {
	switch {
	case r.has(fBatchOperationKey) && r.has(fItemKey):
		return kindItem
	case r.has(fBatchOperationKey) && r.has(fBatchOperationType):
		return kindOp
	case r.has(fID) && r.has(fTotalJobs):
		switch {
		case r.has(fRemainingJobs) || r.has(fCompletedJobs) || r.has(fFailedJobs):
			return kindStats
		case r.has(fEndTime) || r.has(fRemovalTime):
			return kindHistoric
		}
		return kindBatch
	}
	return kindNone
}

func (r *rawRecord) recordErr(reason string) *ImportError {
	return &ImportError{Record: r.num, Line: r.line, Reason: reason}
}

func (r *rawRecord) fieldErr(f int, reason string) *ImportError {
	return &ImportError{Record: r.num, Line: r.fieldLine(f), Field: fieldNames[f], Value: shorten(r.val[f]), Reason: reason}
}

func (r *rawRecord) missingErr(f int, reason string) *ImportError {
	return &ImportError{Record: r.num, Line: r.line, Field: fieldNames[f], Reason: reason}
}

// noKindErr explains a record of no known kind, naming the key field that
// is missing when the other fields make the intended kind clear.
func (r *rawRecord) noKindErr() *ImportError {
	switch {
	case r.has(fItemKey):
		return r.missingErr(fBatchOperationKey, "is missing: a batch operation item record needs batchOperationKey and itemKey")
	case r.has(fBatchOperationType):
		return r.missingErr(fBatchOperationKey, "is missing: a batch operation record needs batchOperationKey and batchOperationType")
	case r.has(fTotalJobs):
		return r.missingErr(fID, "is missing: a Camunda 7 batch record needs id and totalJobs")
	case r.has(fID) && (r.has(fType) || r.has(fJobsCreated) || r.has(fSuspended) || r.has(fEndTime)):
		return r.missingErr(fTotalJobs, "is missing: a Camunda 7 batch record needs id and totalJobs")
	}
	var keys []string
	for i, k := range r.keys {
		if i == 20 {
			keys = append(keys, "...")
			break
		}
		keys = append(keys, strconv.Quote(string(unquote(r.body[k[0]:k[1]]))))
	}
	had := "it has no fields"
	if len(keys) > 0 {
		had = "it has " + strings.Join(keys, ", ")
	}
	return r.recordErr("record of no known kind: " + had + " (want batchOperationKey and itemKey for a batch operation item, " +
		"batchOperationKey and batchOperationType for a batch operation, id and totalJobs for a Camunda 7 batch)")
}

// parsed is a validated record: the values of the present fields (bit f of
// has) in the record of its kind.
type parsed struct {
	kind recKind
	bits uint64
	b    Batch
	o    BatchOperation
	it   BatchOperationItem
	// backing for the item's pointers: items are the bulk of large imports
	pik, rpik, emsg string
	pdate           time.Time
	lastOp          string // the last item's operation key
}

func (p *parsed) has(f int) bool { return p.bits&(1<<f) != 0 }

// parse validates rec into p; on bad input it returns an *ImportError
// without File.
func (p *parsed) parse(rec *rawRecord) error {
	p.kind = rec.detect()
	p.bits = rec.hasKey
	var e *ImportError
	switch p.kind {
	case kindNone:
		return rec.noKindErr()
	case kindItem:
		e = p.parseItem(rec)
	case kindOp:
		e = p.parseOperation(rec)
	default:
		e = p.parseBatch(rec)
	}
	if e != nil {
		return e
	}
	return nil
}

func (p *parsed) parseBatch(r *rawRecord) *ImportError {
	b := &p.b
	*b = Batch{}
	var e *ImportError
	if b.BatchID, e = r.key(fID); e != nil {
		return e
	}
	if r.has(fType) {
		if b.Type, e = r.str(fType); e != nil {
			return e
		}
		if b.Type == "" {
			return r.fieldErr(fType, "must not be empty")
		}
	}
	if r.has(fTotalJobs) {
		if b.TotalJobs, e = r.count(fTotalJobs); e != nil {
			return e
		}
	}
	for _, f := range [...]struct {
		f   int
		dst **int
	}{{fJobsCreated, &b.JobsCreated}, {fBatchJobsPerSeed, &b.BatchJobsPerSeed}, {fInvocationsPerBatchJob, &b.InvocationsPerBatchJob}} {
		if r.has(f.f) {
			if *f.dst, e = r.optCount(f.f); e != nil {
				return e
			}
		}
	}
	for _, f := range [...]struct {
		f   int
		dst **string
	}{
		{fSeedJobDefinitionID, &b.SeedJobDefinitionID}, {fMonitorJobDefinitionID, &b.MonitorJobDefinitionID},
		{fBatchJobDefinitionID, &b.BatchJobDefinitionID}, {fTenantID, &b.TenantID}, {fCreateUserID, &b.CreateUserID},
	} {
		if r.has(f.f) {
			if *f.dst, e = r.optStr(f.f); e != nil {
				return e
			}
		}
	}
	if r.has(fSuspended) {
		if b.Suspended, e = r.boolean(fSuspended); e != nil {
			return e
		}
	}
	for _, f := range [...]struct {
		f   int
		dst **time.Time
	}{{fStartTime, &b.StartTime}, {fExecutionStartTime, &b.ExecutionStartTime}, {fEndTime, &b.EndTime}, {fRemovalTime, &b.RemovalTime}} {
		if r.has(f.f) {
			if *f.dst, e = r.optTime(f.f, nil); e != nil {
				return e
			}
		}
	}
	if r.has(fRemainingJobs) || r.has(fCompletedJobs) || r.has(fFailedJobs) {
		st := &BatchStatistics{}
		for _, f := range [...]struct {
			f   int
			dst *int
		}{{fRemainingJobs, &st.RemainingJobs}, {fCompletedJobs, &st.CompletedJobs}, {fFailedJobs, &st.FailedJobs}} {
			if r.has(f.f) {
				if *f.dst, e = r.count(f.f); e != nil {
					return e
				}
			}
		}
		b.Statistics = st
	}
	return nil
}

func (p *parsed) applyBatch(b *Batch) {
	s := &p.b
	if p.has(fType) {
		b.Type = s.Type
	}
	if p.has(fTotalJobs) {
		b.TotalJobs = s.TotalJobs
	}
	if p.has(fJobsCreated) {
		b.JobsCreated = s.JobsCreated
	}
	if p.has(fBatchJobsPerSeed) {
		b.BatchJobsPerSeed = s.BatchJobsPerSeed
	}
	if p.has(fInvocationsPerBatchJob) {
		b.InvocationsPerBatchJob = s.InvocationsPerBatchJob
	}
	if p.has(fSeedJobDefinitionID) {
		b.SeedJobDefinitionID = s.SeedJobDefinitionID
	}
	if p.has(fMonitorJobDefinitionID) {
		b.MonitorJobDefinitionID = s.MonitorJobDefinitionID
	}
	if p.has(fBatchJobDefinitionID) {
		b.BatchJobDefinitionID = s.BatchJobDefinitionID
	}
	if p.has(fSuspended) {
		b.Suspended = s.Suspended
	}
	if p.has(fTenantID) {
		b.TenantID = s.TenantID
	}
	if p.has(fCreateUserID) {
		b.CreateUserID = s.CreateUserID
	}
	if p.has(fStartTime) {
		b.StartTime = s.StartTime
	}
	if p.has(fExecutionStartTime) {
		b.ExecutionStartTime = s.ExecutionStartTime
	}
	if p.has(fEndTime) {
		b.EndTime = s.EndTime
	}
	if p.has(fRemovalTime) {
		b.RemovalTime = s.RemovalTime
	}
	if s.Statistics != nil {
		st := BatchStatistics{}
		if b.Statistics != nil {
			st = *b.Statistics
		}
		if p.has(fRemainingJobs) {
			st.RemainingJobs = s.Statistics.RemainingJobs
		}
		if p.has(fCompletedJobs) {
			st.CompletedJobs = s.Statistics.CompletedJobs
		}
		if p.has(fFailedJobs) {
			st.FailedJobs = s.Statistics.FailedJobs
		}
		b.Statistics = &st
	}
}

func (p *parsed) parseOperation(r *rawRecord) *ImportError {
	o := &p.o
	*o = BatchOperation{}
	var e *ImportError
	if o.BatchOperationKey, e = r.key(fBatchOperationKey); e != nil {
		return e
	}
	if o.BatchOperationType, e = enumField(r, fBatchOperationType, OperationTypes, "BatchOperationType"); e != nil {
		return e
	}
	if r.has(fState) {
		if o.State, e = enumField(r, fState, OperationStates, "BatchOperationState"); e != nil {
			return e
		}
	}
	if r.has(fStartDate) {
		if o.StartDate, e = r.optTime(fStartDate, nil); e != nil {
			return e
		}
	}
	if r.has(fEndDate) {
		if o.EndDate, e = r.optTime(fEndDate, nil); e != nil {
			return e
		}
	}
	if r.has(fActorType) && !isNull(r.val[fActorType]) {
		a, e := enumField(r, fActorType, ActorTypes, "AuditLogActorType")
		if e != nil {
			return e
		}
		o.ActorType = &a
	}
	if r.has(fActorID) {
		if o.ActorID, e = r.optStr(fActorID); e != nil {
			return e
		}
	}
	for _, f := range [...]struct {
		f   int
		dst *int
	}{{fOperationsTotalCount, &o.OperationsTotalCount}, {fOperationsFailedCount, &o.OperationsFailedCount}, {fOperationsCompletedCount, &o.OperationsCompletedCount}} {
		if r.has(f.f) {
			if *f.dst, e = r.count(f.f); e != nil {
				return e
			}
		}
	}
	if r.has(fErrors) {
		if o.Errors, e = parseOperationErrors(r); e != nil {
			return e
		}
	}
	return nil
}

func parseOperationErrors(r *rawRecord) ([]BatchOperationError, *ImportError) {
	raw := r.val[fErrors]
	out := []BatchOperationError{}
	if isNull(raw) {
		return out, nil
	}
	var list []struct {
		PartitionID json.RawMessage `json:"partitionId"`
		Type        json.RawMessage `json:"type"`
		Message     json.RawMessage `json:"message"`
	}
	if raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, r.fieldErr(fErrors, "must be an array of objects {partitionId, type, message}")
	}
	for i, x := range list {
		name := func(f string) string { return fmt.Sprintf("errors[%d].%s", i, f) }
		ferr := func(f string, v json.RawMessage, reason string) *ImportError {
			return &ImportError{Record: r.num, Line: r.fieldLine(fErrors), Field: name(f), Value: shorten(v), Reason: reason}
		}
		var e BatchOperationError
		if x.PartitionID == nil {
			return nil, ferr("partitionId", nil, "is missing")
		}
		n, reason := parseCount(x.PartitionID)
		if reason != "" {
			return nil, ferr("partitionId", x.PartitionID, reason)
		}
		e.PartitionID = n
		if x.Type == nil {
			return nil, ferr("type", nil, "is missing")
		}
		t, reason := parseEnum(x.Type, ErrorTypes, "BatchOperationErrorType")
		if reason != "" {
			return nil, ferr("type", x.Type, reason)
		}
		e.Type = t
		if x.Message == nil {
			return nil, ferr("message", nil, "is missing")
		}
		msg, ok := parseString(x.Message)
		if !ok {
			return nil, ferr("message", x.Message, "must be a string")
		}
		e.Message = msg
		out = append(out, e)
	}
	return out, nil
}

func (p *parsed) applyOperation(o *BatchOperation) {
	s := &p.o
	o.BatchOperationType = s.BatchOperationType // always present: it tells the kind
	if p.has(fState) {
		o.State = s.State
	}
	if p.has(fStartDate) {
		o.StartDate = s.StartDate
	}
	if p.has(fEndDate) {
		o.EndDate = s.EndDate
	}
	if p.has(fActorType) {
		o.ActorType = s.ActorType
	}
	if p.has(fActorID) {
		o.ActorID = s.ActorID
	}
	if p.has(fOperationsTotalCount) {
		o.OperationsTotalCount = s.OperationsTotalCount
	}
	if p.has(fOperationsFailedCount) {
		o.OperationsFailedCount = s.OperationsFailedCount
	}
	if p.has(fOperationsCompletedCount) {
		o.OperationsCompletedCount = s.OperationsCompletedCount
	}
	if p.has(fErrors) {
		o.Errors = s.Errors
	}
}

// legacyItemStates are the states of items created by the old Operate
// (before 8.8), which the API shows as ACTIVE.
var legacyItemStates = map[string]ItemState{"SCHEDULED": "ACTIVE", "LOCKED": "ACTIVE", "SENT": "ACTIVE"}

func (p *parsed) parseItem(r *rawRecord) *ImportError {
	it := &p.it
	*it = BatchOperationItem{}
	var e *ImportError
	// items come in runs of one operation: reuse its key string
	if raw := r.val[fBatchOperationKey]; p.lastOp != "" && len(raw) == len(p.lastOp)+2 && raw[0] == '"' &&
		string(raw[1:len(raw)-1]) == p.lastOp {
		it.BatchOperationKey = p.lastOp
	} else if it.BatchOperationKey, e = r.key(fBatchOperationKey); e != nil {
		return e
	} else {
		p.lastOp = it.BatchOperationKey
	}
	if it.ItemKey, e = r.key(fItemKey); e != nil {
		return e
	}
	if r.has(fOperationType) {
		if it.OperationType, e = enumField(r, fOperationType, OperationTypes, "BatchOperationType"); e != nil {
			return e
		}
	}
	if r.has(fState) {
		raw := r.val[fState]
		if s, ok := legacyItemStates[string(unquote(raw))]; ok && len(raw) > 0 && raw[0] == '"' {
			it.State = s
		} else if it.State, e = enumField(r, fState, ItemStates, "BatchOperationItemState"); e != nil {
			return e
		}
	}
	for _, f := range [...]struct {
		f       int
		dst     **string
		backing *string
	}{{fProcessInstanceKey, &it.ProcessInstanceKey, &p.pik}, {fRootProcessInstanceKey, &it.RootProcessInstanceKey, &p.rpik}} {
		if !r.has(f.f) || isNull(r.val[f.f]) {
			continue
		}
		k, e := r.key(f.f)
		if e != nil {
			return e
		}
		if k == "-1" { // decision items (camunda/camunda#45988)
			continue
		}
		*f.backing = k
		*f.dst = f.backing
	}
	if r.has(fProcessedDate) {
		if it.ProcessedDate, e = r.optTime(fProcessedDate, &p.pdate); e != nil {
			return e
		}
	}
	if r.has(fErrorMessage) && !isNull(r.val[fErrorMessage]) {
		s, e := r.str(fErrorMessage)
		if e != nil {
			return e
		}
		p.emsg = s
		it.ErrorMessage = &p.emsg
	}
	return nil
}

// applyItem merges p into it. The pointers are copied into it, so it must
// be stored before p is reused.
func (p *parsed) applyItem(it *BatchOperationItem) {
	s := &p.it
	if p.has(fOperationType) {
		it.OperationType = s.OperationType
	}
	if p.has(fState) {
		it.State = s.State
	}
	if p.has(fProcessInstanceKey) {
		it.ProcessInstanceKey = s.ProcessInstanceKey
	}
	if p.has(fRootProcessInstanceKey) {
		it.RootProcessInstanceKey = s.RootProcessInstanceKey
	}
	if p.has(fProcessedDate) {
		it.ProcessedDate = s.ProcessedDate
	}
	if p.has(fErrorMessage) {
		it.ErrorMessage = s.ErrorMessage
	}
}

// ---------------------------------------------------------------------------
// Values. Every raw value is syntactically valid JSON (the scanner checked).

func isNull(raw []byte) bool { return len(raw) == 4 && string(raw) == "null" }

func jsonType(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// unquote returns the contents of a JSON string without escapes, or nil.
func unquote(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' {
		return nil
	}
	return raw[1 : len(raw)-1]
}

// parseString decodes a JSON string value.
func parseString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// isIntText reports whether raw is a JSON integer (no fraction, no exponent).
func isIntText(raw []byte) bool {
	i := 0
	if i < len(raw) && raw[i] == '-' {
		i++
	}
	if i == len(raw) {
		return false
	}
	for ; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

func parseKey(raw []byte) (string, string) {
	switch {
	case isNull(raw):
		return "", "must not be null"
	case raw[0] == '"':
		s, _ := parseString(raw)
		if s == "" {
			return "", "must not be empty"
		}
		return s, ""
	case isIntText(raw):
		return string(raw), ""
	}
	return "", "must be a string or an integer, not " + jsonType(raw)
}

func parseCount(raw []byte) (int, string) {
	const reason = "must be an integer from 0 to 2147483647"
	if len(raw) == 0 || len(raw) > 10 {
		return 0, reason + ", not " + jsonType(raw)
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, reason + ", not " + jsonType(raw)
		}
		n = n*10 + int64(c-'0')
	}
	if n > math.MaxInt32 {
		return 0, reason
	}
	return int(n), ""
}

func parseEnum[E ~string](raw []byte, list []E, typ string) (E, string) {
	in := unquote(raw)
	if in == nil {
		return "", "must be a " + typ + " name, not " + jsonType(raw)
	}
	if bytes.IndexByte(in, '\\') >= 0 {
		s, _ := parseString(raw)
		in = []byte(s)
	}
	for _, v := range list {
		if string(in) == string(v) {
			return v, ""
		}
	}
	names := make([]string, len(list))
	for i, v := range list {
		names[i] = string(v)
	}
	return "", "unknown " + typ + " (want one of " + strings.Join(names, ", ") + ")"
}

func (r *rawRecord) key(f int) (string, *ImportError) {
	if !r.has(f) {
		return "", r.missingErr(f, "is missing")
	}
	k, reason := parseKey(r.val[f])
	if reason != "" {
		return "", r.fieldErr(f, reason)
	}
	return k, nil
}

func (r *rawRecord) str(f int) (string, *ImportError) {
	s, ok := parseString(r.val[f])
	if !ok {
		if isNull(r.val[f]) {
			return "", r.fieldErr(f, "must not be null")
		}
		return "", r.fieldErr(f, "must be a string, not "+jsonType(r.val[f]))
	}
	return s, nil
}

func (r *rawRecord) optStr(f int) (*string, *ImportError) {
	if isNull(r.val[f]) {
		return nil, nil
	}
	s, e := r.str(f)
	if e != nil {
		return nil, e
	}
	return &s, nil
}

func (r *rawRecord) count(f int) (int, *ImportError) {
	if isNull(r.val[f]) {
		return 0, r.fieldErr(f, "must not be null")
	}
	n, reason := parseCount(r.val[f])
	if reason != "" {
		return 0, r.fieldErr(f, reason)
	}
	return n, nil
}

func (r *rawRecord) optCount(f int) (*int, *ImportError) {
	if isNull(r.val[f]) {
		return nil, nil
	}
	n, e := r.count(f)
	if e != nil {
		return nil, e
	}
	return &n, nil
}

func (r *rawRecord) boolean(f int) (bool, *ImportError) {
	switch string(r.val[f]) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return false, r.fieldErr(f, "must not be null")
	}
	return false, r.fieldErr(f, "must be true or false, not "+jsonType(r.val[f]))
}

// optTime parses a nullable date into backing (or a new time when nil).
func (r *rawRecord) optTime(f int, backing *time.Time) (*time.Time, *ImportError) {
	raw := r.val[f]
	if isNull(raw) {
		return nil, nil
	}
	in := unquote(raw)
	if in == nil {
		return nil, r.fieldErr(f, "must be a date string, not "+jsonType(raw))
	}
	t, ok := parseDate(in)
	if !ok {
		return nil, r.fieldErr(f, "is not a date like 2025-06-04T11:13:43.123Z or 2024-05-14T09:12:03.417+0200")
	}
	if t.Before(minStoredTime) || t.After(maxStoredTime) {
		return nil, r.fieldErr(f, "is out of range (years 1678 to 2261)")
	}
	if backing == nil {
		backing = new(time.Time)
	}
	*backing = t
	return backing, nil
}

func enumField[E ~string](r *rawRecord, f int, list []E, typ string) (E, *ImportError) {
	if !r.has(f) {
		return "", r.missingErr(f, "is missing")
	}
	if isNull(r.val[f]) {
		return "", r.fieldErr(f, "must not be null")
	}
	v, reason := parseEnum(r.val[f], list, typ)
	if reason != "" {
		return "", r.fieldErr(f, reason)
	}
	return v, nil
}

// Dates are stored as Unix nanoseconds.
var (
	minStoredTime = time.Unix(0, math.MinInt64).UTC()
	maxStoredTime = time.Unix(0, math.MaxInt64).UTC()
)

// parseDate parses yyyy-MM-ddTHH:mm:ss, 0 to 9 fraction digits, and Z,
// ±HH:MM or ±HHMM (Camunda 7), into UTC.
func parseDate(b []byte) (time.Time, bool) {
	num := func(s []byte) int {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	if day > 28 && day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		digits := i - j
		if digits == 0 || digits > 9 {
			return time.Time{}, false
		}
		nsec = num(b[j:i])
		for k := digits; k < 9; k++ {
			nsec *= 10
		}
	}
	zone := b[i:]
	var off int
	switch {
	case len(zone) == 1 && (zone[0] == 'Z' || zone[0] == 'z'):
	case (len(zone) == 6 && zone[3] == ':') || len(zone) == 5:
		if zone[0] != '+' && zone[0] != '-' {
			return time.Time{}, false
		}
		oh := num(zone[1:3])
		om := num(zone[len(zone)-2:])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		off = oh*3600 + om*60
		if zone[0] == '-' {
			off = -off
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), true
}

// shorten returns raw for a message, cut to about 80 characters.
func shorten(raw []byte) string {
	const max = 80
	if len(raw) <= max {
		return string(raw)
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return string(raw[:cut]) + "…"
}
