package importer

import (
	"bytes"
	"errors"
	"io"
)

// This file is the importer's API for live sync (package syncer): the same
// per-record decoding and validation as import, but lenient per record, so
// that one bad record of an engine response can be set aside while the
// others are applied.

// Rejected is a record of a response that cannot become a Patch: Err says
// why (Field, Value, Reason; Record is its position in the response), Kind
// and Key name it as far as its fields tell (Kind "" when no kind is
// recognisable, Key "" when the key field is missing or not a string).
type Rejected struct {
	Kind, Key string
	Err       *Error
}

// DecodeRecords decodes the records of an engine response body: a JSON
// array of records (Camunda 7 lists) or a search response {items, page}
// (Camunda 8), read by the import's scanner. Each record becomes a fresh
// Patch, validated as import validates a record of a file, or a Rejected.
// Malformed JSON, an element that is not an object, or an empty body is an
// error: nothing of such a body is usable.
func DecodeRecords(body []byte) ([]*Patch, []Rejected, error) {
	sc := newJSONScanner(bytes.NewReader(body))
	var patches []*Patch
	var bad []Rejected
	for {
		rec, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		p := new(Patch)
		if err := p.parse(rec); err != nil {
			var ie *Error
			if !errors.As(err, &ie) {
				ie = &Error{Reason: err.Error()}
			}
			ie.Record, ie.Line = rec.num, 0
			kind, key := rec.identity()
			bad = append(bad, Rejected{Kind: kind, Key: key, Err: ie})
			continue
		}
		p.detach()
		patches = append(patches, p)
	}
	if sc.values == 0 {
		return nil, nil, errors.New(errEmpty)
	}
	return patches, bad, nil
}

// identity reads a bad record's kind and natural key from its fields,
// without validating anything else.
func (r *rawRecord) identity() (kind, key string) {
	str := func(f int) string {
		s, _ := parseString(r.val[f])
		return s
	}
	switch {
	case r.has(fItemKey) && r.has(fBatchOperationKey):
		return KindItem, str(fBatchOperationKey) + "/" + str(fItemKey)
	case r.has(fItemKey):
		return KindItem, "/" + str(fItemKey)
	case r.has(fBatchOperationKey) || r.has(fBatchOperationType):
		return KindBatchOperation, str(fBatchOperationKey)
	case r.has(fID) || r.has(fTotalJobs):
		kind = KindBatch
		if r.has(fRemainingJobs) {
			kind = KindBatchStats
		} else if r.has(fEndTime) {
			kind = KindHistoricBatch
		}
		return kind, str(fID)
	}
	return "", ""
}

// IsMissing reports whether err, from Patch.Apply, is a patch that lacks a
// field a new record needs (its record is not stored yet), and names the
// field: such a patch can be retried once the record (or, for an item, its
// operation) is stored.
func IsMissing(err error) (field string, ok bool) {
	var me *missingError
	if errors.As(err, &me) {
		return me.field, true
	}
	return "", false
}
