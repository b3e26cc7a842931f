package importer

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/batchql/batchql/storage"
)

// MarshalJSON encodes p as the engine record it stands for: its present
// fields, in a fixed order, with their normalized values (a present field
// whose value is unset is null). It is written by hand, without
// reflection, as patches are meant to be published one per record.
func (p *Patch) MarshalJSON() ([]byte, error) {
	if p.kind == kindNone {
		return nil, errors.New("import: marshal an empty patch")
	}
	return p.AppendJSON(make([]byte, 0, 256)), nil
}

// AppendJSON appends p's JSON (see MarshalJSON) to b.
func (p *Patch) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	for f := range numFields {
		if !p.has(f) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, fieldNames[f])
		b = append(b, ':')
		b = p.appendValue(b, f)
	}
	return append(b, '}')
}

// UnmarshalJSON decodes one engine record (a JSON object) into p, validated
// as the importer validates a record of a file; bad input is an *Error
// without File.
func (p *Patch) UnmarshalJSON(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return &Error{Record: 1, Line: 1, Reason: "a patch must be one JSON object"}
	}
	sc := newJSONScannerSize(bytes.NewReader(trimmed), max(len(trimmed)+1, 512))
	rec, err := sc.next()
	if err == io.EOF {
		err = &Error{Record: 1, Line: 1, Reason: "a patch must be one JSON object"}
	}
	if err != nil {
		return err
	}
	if err := p.parse(rec); err != nil {
		return err
	}
	if _, err := sc.next(); err != io.EOF {
		return &Error{Record: 2, Line: sc.line, Reason: "a patch must be one JSON object, not several"}
	}
	p.detach()
	return nil
}

// detach gives an item patch pointers of its own, so that p stays valid
// when the Patch it came from is reused.
func (p *Patch) detach() {
	if p.kind != kindItem {
		return
	}
	it := &p.it
	it.ProcessInstanceKey = own(it.ProcessInstanceKey)
	it.RootProcessInstanceKey = own(it.RootProcessInstanceKey)
	it.ErrorMessage = own(it.ErrorMessage)
	it.ProcessedDate = own(it.ProcessedDate)
}

// own returns a copy of *v in a variable of its own (nil for nil).
func own[T any](v *T) *T {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

func (p *Patch) appendValue(b []byte, f int) []byte {
	bt, o, it := &p.b, &p.o, &p.it
	switch f {
	case fID:
		return appendJSONString(b, bt.BatchID)
	case fType:
		return appendJSONString(b, bt.Type)
	case fTotalJobs:
		return strconv.AppendInt(b, int64(bt.TotalJobs), 10)
	case fJobsCreated:
		return appendOptInt(b, bt.JobsCreated)
	case fBatchJobsPerSeed:
		return appendOptInt(b, bt.BatchJobsPerSeed)
	case fInvocationsPerBatchJob:
		return appendOptInt(b, bt.InvocationsPerBatchJob)
	case fSeedJobDefinitionID:
		return appendOptString(b, bt.SeedJobDefinitionID)
	case fMonitorJobDefinitionID:
		return appendOptString(b, bt.MonitorJobDefinitionID)
	case fBatchJobDefinitionID:
		return appendOptString(b, bt.BatchJobDefinitionID)
	case fSuspended:
		return strconv.AppendBool(b, bt.Suspended)
	case fTenantID:
		return appendOptString(b, bt.TenantID)
	case fCreateUserID:
		return appendOptString(b, bt.CreateUserID)
	case fStartTime:
		return appendOptTime(b, bt.StartTime)
	case fExecutionStartTime:
		return appendOptTime(b, bt.ExecutionStartTime)
	case fEndTime:
		return appendOptTime(b, bt.EndTime)
	case fRemovalTime:
		return appendOptTime(b, bt.RemovalTime)
	case fRemainingJobs, fCompletedJobs, fFailedJobs:
		var st storage.BatchStatistics
		if bt.Statistics != nil {
			st = *bt.Statistics
		}
		n := st.RemainingJobs
		if f == fCompletedJobs {
			n = st.CompletedJobs
		} else if f == fFailedJobs {
			n = st.FailedJobs
		}
		return strconv.AppendInt(b, int64(n), 10)
	case fBatchOperationKey:
		if p.kind == kindItem {
			return appendJSONString(b, it.BatchOperationKey)
		}
		return appendJSONString(b, o.BatchOperationKey)
	case fBatchOperationType:
		return appendJSONString(b, string(o.BatchOperationType))
	case fState:
		if p.kind == kindItem {
			return appendJSONString(b, string(it.State))
		}
		return appendJSONString(b, string(o.State))
	case fStartDate:
		return appendOptTime(b, o.StartDate)
	case fEndDate:
		return appendOptTime(b, o.EndDate)
	case fActorType:
		if o.ActorType == nil {
			return append(b, "null"...)
		}
		return appendJSONString(b, string(*o.ActorType))
	case fActorID:
		return appendOptString(b, o.ActorID)
	case fOperationsTotalCount:
		return strconv.AppendInt(b, int64(o.OperationsTotalCount), 10)
	case fOperationsFailedCount:
		return strconv.AppendInt(b, int64(o.OperationsFailedCount), 10)
	case fOperationsCompletedCount:
		return strconv.AppendInt(b, int64(o.OperationsCompletedCount), 10)
	case fErrors:
		b = append(b, '[')
		for i, e := range o.Errors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"partitionId":`...)
			b = strconv.AppendInt(b, int64(e.PartitionID), 10)
			b = append(b, `,"type":`...)
			b = appendJSONString(b, string(e.Type))
			b = append(b, `,"message":`...)
			b = appendJSONString(b, e.Message)
			b = append(b, '}')
		}
		return append(b, ']')
	case fItemKey:
		return appendJSONString(b, it.ItemKey)
	case fOperationType:
		return appendJSONString(b, string(it.OperationType))
	case fProcessInstanceKey:
		return appendOptString(b, it.ProcessInstanceKey)
	case fRootProcessInstanceKey:
		return appendOptString(b, it.RootProcessInstanceKey)
	case fProcessedDate:
		return appendOptTime(b, it.ProcessedDate)
	case fErrorMessage:
		return appendOptString(b, it.ErrorMessage)
	}
	return append(b, "null"...)
}

func appendOptInt(b []byte, v *int) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*v), 10)
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// appendOptTime writes a date in UTC with as many fraction digits as it
// needs, a form parseDate reads back exactly.
func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string: quotes, backslashes, control
// characters and the line and paragraph separators escaped, invalid UTF-8
// as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				// U+2028 and U+2029 escaped as encoding/json does, so that
				// its output and ours agree
				b = append(b, s[start:i]...)
				switch r {
				case '\u2028':
					b = append(b, `\u2028`...)
				case '\u2029':
					b = append(b, `\u2029`...)
				default:
					b = append(b, `\ufffd`...)
				}
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
