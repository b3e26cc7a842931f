package importer

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/batchql/batchql/storage"
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

func (r *rawRecord) recordErr(reason string) *Error {
	return &Error{Record: r.num, Line: r.line, Reason: reason}
}

func (r *rawRecord) fieldErr(f int, reason string) *Error {
	return &Error{Record: r.num, Line: r.fieldLine(f), Field: fieldNames[f], Value: shorten(r.val[f]), Reason: reason}
}

func (r *rawRecord) missingErr(f int, reason string) *Error {
	return &Error{Record: r.num, Line: r.line, Field: fieldNames[f], Reason: reason}
}

// noKindErr explains a record of no known kind, naming the key field that
// is missing when the other fields make the intended kind clear.
func (r *rawRecord) noKindErr() *Error {
	const keyFields = 1<<fID | 1<<fTotalJobs | 1<<fBatchOperationKey | 1<<fBatchOperationType | 1<<fItemKey
	if r.hasKey&keyFields == 0 {
		if msg := engineError(r.body); msg != "" {
			e := r.recordErr("the input is an error response from the engine, not records: " + msg)
			if r.num == 1 {
				e.Record, e.Line = 0, 0 // the whole input, as a rule
			}
			return e
		}
	}
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

// engineError describes body when it is an engine's error response rather
// than a record: Camunda 8's RFC 9457 problem detail
// (application/problem+json: {type, title, status, detail, instance}) as
// "401 UNAUTHORIZED: detail", or Camunda 7's {"type": "...Exception",
// "message": ..., "code": ...} as "InvalidRequestException: message";
// "" otherwise.
func engineError(body []byte) string {
	var e struct {
		Type     *string         `json:"type"`
		Title    *string         `json:"title"`
		Status   json.RawMessage `json:"status"`
		Detail   *string         `json:"detail"`
		Instance *string         `json:"instance"`
		Message  *string         `json:"message"`
		Code     json.RawMessage `json:"code"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	switch {
	case e.Title != nil && e.Status != nil && (e.Detail != nil || e.Instance != nil || e.Type != nil):
		status := string(e.Status)
		if q := unquote(e.Status); q != nil {
			status = string(q)
		}
		msg := strings.TrimSpace(status + " " + *e.Title)
		if e.Detail != nil && *e.Detail != "" {
			msg += ": " + *e.Detail
		}
		if e.Instance != nil && *e.Instance != "" {
			msg += " (" + *e.Instance + ")"
		}
		return clip(msg)
	case e.Type != nil && strings.HasSuffix(*e.Type, "Exception") && e.Message != nil:
		msg := *e.Type + ": " + *e.Message
		if len(e.Code) > 0 && string(e.Code) != "null" {
			msg += " (code " + string(e.Code) + ")"
		}
		return clip(msg)
	}
	return ""
}

// clip shortens a message quoted from the input to about 300 characters.
func clip(s string) string {
	if len(s) <= 300 {
		return s
	}
	cut := 300
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func (r *rawRecord) key(f int) (string, *Error) {
	if !r.has(f) {
		return "", r.missingErr(f, "is missing")
	}
	k, reason := parseKey(r.val[f])
	if reason != "" {
		return "", r.fieldErr(f, reason)
	}
	return k, nil
}

func (r *rawRecord) str(f int) (string, *Error) {
	s, ok := parseString(r.val[f])
	if !ok {
		if isNull(r.val[f]) {
			return "", r.fieldErr(f, "must not be null")
		}
		return "", r.fieldErr(f, "must be a string, not "+jsonType(r.val[f]))
	}
	return s, nil
}

func (r *rawRecord) optStr(f int) (*string, *Error) {
	if isNull(r.val[f]) {
		return nil, nil
	}
	s, e := r.str(f)
	if e != nil {
		return nil, e
	}
	return &s, nil
}

func (r *rawRecord) count(f int) (int, *Error) {
	if isNull(r.val[f]) {
		return 0, r.fieldErr(f, "must not be null")
	}
	n, reason := parseCount(r.val[f])
	if reason != "" {
		return 0, r.fieldErr(f, reason)
	}
	return n, nil
}

func (r *rawRecord) optCount(f int) (*int, *Error) {
	if isNull(r.val[f]) {
		return nil, nil
	}
	n, e := r.count(f)
	if e != nil {
		return nil, e
	}
	return &n, nil
}

func (r *rawRecord) boolean(f int) (bool, *Error) {
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
func (r *rawRecord) optTime(f int, backing *time.Time) (*time.Time, *Error) {
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
	if !storage.Storable(t) {
		return nil, r.fieldErr(f, "is out of range (years 1678 to 2261)")
	}
	if backing == nil {
		backing = new(time.Time)
	}
	*backing = t
	return backing, nil
}

func enumField[E ~string](r *rawRecord, f int, list []E, typ string) (E, *Error) {
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
