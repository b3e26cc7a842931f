package importer

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/batchql/batchql/storage"
)

// parse validates rec into p; on bad input it returns an *Error
// without File.
func (p *Patch) parse(rec *rawRecord) error {
	p.kind = rec.detect()
	p.bits = rec.hasKey
	var e *Error
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

func (p *Patch) parseBatch(r *rawRecord) *Error {
	b := &p.b
	*b = storage.Batch{}
	var e *Error
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
		st := &storage.BatchStatistics{}
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

func (p *Patch) parseOperation(r *rawRecord) *Error {
	o := &p.o
	*o = storage.BatchOperation{}
	var e *Error
	if o.BatchOperationKey, e = r.key(fBatchOperationKey); e != nil {
		return e
	}
	if o.BatchOperationType, e = enumField(r, fBatchOperationType, storage.OperationTypes, "BatchOperationType"); e != nil {
		return e
	}
	if r.has(fState) {
		if o.State, e = enumField(r, fState, storage.OperationStates, "BatchOperationState"); e != nil {
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
		a, e := enumField(r, fActorType, storage.ActorTypes, "AuditLogActorType")
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

func parseOperationErrors(r *rawRecord) ([]storage.BatchOperationError, *Error) {
	raw := r.val[fErrors]
	out := []storage.BatchOperationError{}
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
		ferr := func(f string, v json.RawMessage, reason string) *Error {
			return &Error{Record: r.num, Line: r.fieldLine(fErrors), Field: name(f), Value: shorten(v), Reason: reason}
		}
		var e storage.BatchOperationError
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
		t, reason := parseEnum(x.Type, storage.ErrorTypes, "BatchOperationErrorType")
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

// legacyItemStates are the states of items created by the old Operate
// (before 8.8), which the API shows as ACTIVE.
var legacyItemStates = map[string]storage.ItemState{"SCHEDULED": "ACTIVE", "LOCKED": "ACTIVE", "SENT": "ACTIVE"}

func (p *Patch) parseItem(r *rawRecord) *Error {
	it := &p.it
	*it = storage.BatchOperationItem{}
	var e *Error
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
		if it.OperationType, e = enumField(r, fOperationType, storage.OperationTypes, "BatchOperationType"); e != nil {
			return e
		}
	}
	if r.has(fState) {
		raw := r.val[fState]
		if s, ok := legacyItemStates[string(unquote(raw))]; ok && len(raw) > 0 && raw[0] == '"' {
			it.State = s
		} else if it.State, e = enumField(r, fState, storage.ItemStates, "BatchOperationItemState"); e != nil {
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
