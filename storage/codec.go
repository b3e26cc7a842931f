package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Values are stored in a small hand-written binary format rather than JSON or
// gob: an item is about 40 bytes instead of ~300 as JSON, decoding allocates
// only the strings, and 10M items stay a few hundred MB on disk. The first
// byte is a format version; nullable fields carry a presence byte; enums are
// one-byte codes (their position in the lists of record.go).
const valueVersion = 1

var errShortValue = errors.New("truncated value")

type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) str(s string)     { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }
func (w *writer) flag(ok bool) {
	if ok {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *writer) optStr(s *string) {
	w.flag(s != nil)
	if s != nil {
		w.str(*s)
	}
}
func (w *writer) optInt(v *int) {
	w.flag(v != nil)
	if v != nil {
		w.varint(int64(*v))
	}
}
func (w *writer) optTime(t *time.Time) {
	w.flag(t != nil)
	if t != nil {
		w.varint(t.UnixNano())
	}
}

type reader struct {
	b   []byte
	err error
	// text, when set, is the whole value as a string: str then returns
	// substrings of it instead of a copy each.
	text string
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail(errShortValue)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShortValue)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShortValue)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// str copies the string out of the buffer: bbolt's memory is only valid
// inside the transaction.
func (r *reader) str() string {
	n := r.uvarint()
	if uint64(len(r.b)) < n {
		r.fail(errShortValue)
		return ""
	}
	var s string
	if r.text != "" {
		off := len(r.text) - len(r.b)
		s = r.text[off : off+int(n)]
	} else {
		s = string(r.b[:n])
	}
	r.b = r.b[n:]
	return s
}

func (r *reader) flag() bool { return r.byte() == 1 }

func (r *reader) optStr() *string {
	if !r.flag() {
		return nil
	}
	s := r.str()
	return &s
}

// optStrIn is optStr storing the string in *dst.
func (r *reader) optStrIn(dst *string) *string {
	if !r.flag() {
		return nil
	}
	*dst = r.str()
	return dst
}

func (r *reader) optInt() *int {
	if !r.flag() {
		return nil
	}
	v := int(r.varint())
	return &v
}

func (r *reader) optTime() *time.Time {
	if !r.flag() {
		return nil
	}
	t := time.Unix(0, r.varint()).UTC()
	return &t
}

func readEnum[E ~string](r *reader, list []E) E {
	c := r.byte()
	if int(c) >= len(list) {
		r.fail(fmt.Errorf("unknown enum code %d", c))
		return ""
	}
	return list[c]
}

func writeEnum[E ~string](w *writer, list []E, v E) error {
	c, ok := enumCode(list, v)
	if !ok {
		return fmt.Errorf("unknown value %q", v)
	}
	w.b = append(w.b, c)
	return nil
}

func (r *reader) version() {
	if v := r.byte(); r.err == nil && v != valueVersion {
		r.fail(fmt.Errorf("unknown value format version %d", v))
	}
}

func encodeBatch(b *Batch) []byte {
	w := writer{b: make([]byte, 0, 160)}
	w.b = append(w.b, valueVersion)
	w.str(b.BatchID)
	w.str(b.Type)
	w.varint(int64(b.TotalJobs))
	w.optInt(b.JobsCreated)
	w.optInt(b.BatchJobsPerSeed)
	w.optInt(b.InvocationsPerBatchJob)
	w.optStr(b.SeedJobDefinitionID)
	w.optStr(b.MonitorJobDefinitionID)
	w.optStr(b.BatchJobDefinitionID)
	w.flag(b.Suspended)
	w.optStr(b.TenantID)
	w.optStr(b.CreateUserID)
	w.optTime(b.StartTime)
	w.optTime(b.ExecutionStartTime)
	w.optTime(b.EndTime)
	w.optTime(b.RemovalTime)
	w.flag(b.Statistics != nil)
	if s := b.Statistics; s != nil {
		w.varint(int64(s.RemainingJobs))
		w.varint(int64(s.CompletedJobs))
		w.varint(int64(s.FailedJobs))
	}
	return w.b
}

func decodeBatch(v []byte) (*Batch, error) {
	r := reader{b: v}
	r.version()
	b := &Batch{}
	b.BatchID = r.str()
	b.Type = r.str()
	b.TotalJobs = int(r.varint())
	b.JobsCreated = r.optInt()
	b.BatchJobsPerSeed = r.optInt()
	b.InvocationsPerBatchJob = r.optInt()
	b.SeedJobDefinitionID = r.optStr()
	b.MonitorJobDefinitionID = r.optStr()
	b.BatchJobDefinitionID = r.optStr()
	b.Suspended = r.flag()
	b.TenantID = r.optStr()
	b.CreateUserID = r.optStr()
	b.StartTime = r.optTime()
	b.ExecutionStartTime = r.optTime()
	b.EndTime = r.optTime()
	b.RemovalTime = r.optTime()
	if r.flag() {
		b.Statistics = &BatchStatistics{
			RemainingJobs: int(r.varint()),
			CompletedJobs: int(r.varint()),
			FailedJobs:    int(r.varint()),
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode batch: %w", r.err)
	}
	return b, nil
}

func encodeOperation(o *BatchOperation) ([]byte, error) {
	w := writer{b: make([]byte, 0, 96)}
	w.b = append(w.b, valueVersion)
	w.str(o.BatchOperationKey)
	if err := writeEnum(&w, OperationTypes, o.BatchOperationType); err != nil {
		return nil, fmt.Errorf("batchOperationType: %w", err)
	}
	if err := writeEnum(&w, OperationStates, o.State); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	w.optTime(o.StartDate)
	w.optTime(o.EndDate)
	w.flag(o.ActorType != nil)
	if o.ActorType != nil {
		if err := writeEnum(&w, ActorTypes, *o.ActorType); err != nil {
			return nil, fmt.Errorf("actorType: %w", err)
		}
	}
	w.optStr(o.ActorID)
	w.varint(int64(o.OperationsTotalCount))
	w.varint(int64(o.OperationsFailedCount))
	w.varint(int64(o.OperationsCompletedCount))
	w.uvarint(uint64(len(o.Errors)))
	for _, e := range o.Errors {
		w.varint(int64(e.PartitionID))
		if err := writeEnum(&w, ErrorTypes, e.Type); err != nil {
			return nil, fmt.Errorf("errors.type: %w", err)
		}
		w.str(e.Message)
	}
	return w.b, nil
}

func decodeOperation(v []byte) (*BatchOperation, error) {
	r := reader{b: v}
	r.version()
	o := &BatchOperation{}
	o.BatchOperationKey = r.str()
	o.BatchOperationType = readEnum(&r, OperationTypes)
	o.State = readEnum(&r, OperationStates)
	o.StartDate = r.optTime()
	o.EndDate = r.optTime()
	if r.flag() {
		a := readEnum(&r, ActorTypes)
		o.ActorType = &a
	}
	o.ActorID = r.optStr()
	o.OperationsTotalCount = int(r.varint())
	o.OperationsFailedCount = int(r.varint())
	o.OperationsCompletedCount = int(r.varint())
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail(errShortValue)
		n = 0
	}
	o.Errors = make([]BatchOperationError, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		var e BatchOperationError
		e.PartitionID = int(r.varint())
		e.Type = readEnum(&r, ErrorTypes)
		e.Message = r.str()
		o.Errors = append(o.Errors, e)
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode batch operation: %w", r.err)
	}
	return o, nil
}

// Items are keyed by batchOperationKey‖itemKey, so both keys are left out of
// the value and restored from the bucket key on decode.
func encodeItem(it *BatchOperationItem) ([]byte, error) {
	w := writer{b: make([]byte, 0, 64)}
	w.b = append(w.b, valueVersion)
	if err := writeEnum(&w, OperationTypes, it.OperationType); err != nil {
		return nil, fmt.Errorf("operationType: %w", err)
	}
	if err := writeEnum(&w, ItemStates, it.State); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	w.optStr(it.ProcessInstanceKey)
	w.optStr(it.RootProcessInstanceKey)
	w.optTime(it.ProcessedDate)
	w.optStr(it.ErrorMessage)
	return w.b, nil
}

func decodeItem(pk, v []byte) (*BatchOperationItem, error) {
	// Items are decoded by the hundred per page: one allocation holds the
	// item and what its pointers point to, one string all its text (both
	// keys, then the value).
	var kb [80]byte
	text, rest, err := appendKeyText(kb[:0], pk)
	if err != nil {
		return nil, fmt.Errorf("decode item key: %w", err)
	}
	nop := len(text)
	if text, _, err = appendKeyText(text, rest); err != nil {
		return nil, fmt.Errorf("decode item key: %w", err)
	}
	nkeys := len(text)
	all := string(append(text, v...))
	op, item := all[:nop], all[nop:nkeys]
	box := &struct {
		it            BatchOperationItem
		pi, root, msg string
		processed     time.Time
	}{}
	r := reader{b: v, text: all[nkeys:]}
	r.version()
	it := &box.it
	it.BatchOperationKey, it.ItemKey = op, item
	it.OperationType = readEnum(&r, OperationTypes)
	it.State = readEnum(&r, ItemStates)
	it.ProcessInstanceKey = r.optStrIn(&box.pi)
	it.RootProcessInstanceKey = r.optStrIn(&box.root)
	if r.flag() {
		box.processed = time.Unix(0, r.varint()).UTC()
		it.ProcessedDate = &box.processed
	}
	it.ErrorMessage = r.optStrIn(&box.msg)
	if r.err != nil {
		return nil, fmt.Errorf("decode item %s/%s: %w", op, item, r.err)
	}
	return it, nil
}
