package importer

import (
	"encoding/json"
	"errors"
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
// (Camunda 8). Each record becomes a fresh Patch, validated as import
// validates a record of a file, or a Rejected. Malformed JSON, or a body of
// another shape, is an error: nothing of such a body is usable.
func DecodeRecords(body []byte) ([]*Patch, []Rejected, error) {
	var raws []json.RawMessage
	if len(body) > 0 && body[0] == '{' {
		var env struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, nil, err
		}
		raws = env.Items
	} else if err := json.Unmarshal(body, &raws); err != nil {
		return nil, nil, err
	}
	patches := make([]*Patch, 0, len(raws))
	var bad []Rejected
	for i, raw := range raws {
		p := new(Patch)
		err := p.UnmarshalJSON(raw)
		if err == nil {
			patches = append(patches, p)
			continue
		}
		var ie *Error
		if !errors.As(err, &ie) {
			ie = &Error{Reason: err.Error()}
		}
		ie.Record, ie.Line = int64(i+1), 0
		kind, key := guessIdentity(raw)
		bad = append(bad, Rejected{Kind: kind, Key: key, Err: ie})
	}
	return patches, bad, nil
}

// guessIdentity reads a bad record's kind and natural key from its fields,
// without validating anything else.
func guessIdentity(raw json.RawMessage) (kind, key string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return "", ""
	}
	str := func(name string) string {
		var s string
		if v, ok := m[name]; ok && json.Unmarshal(v, &s) == nil {
			return s
		}
		return ""
	}
	_, hasItem := m["itemKey"]
	_, hasOpKey := m["batchOperationKey"]
	_, hasOpType := m["batchOperationType"]
	_, hasID := m["id"]
	_, hasTotal := m["totalJobs"]
	switch {
	case hasItem && hasOpKey:
		return KindItem, str("batchOperationKey") + "/" + str("itemKey")
	case hasItem:
		return KindItem, "/" + str("itemKey")
	case hasOpKey || hasOpType:
		return KindBatchOperation, str("batchOperationKey")
	case hasID || hasTotal:
		kind = KindBatch
		if _, ok := m["remainingJobs"]; ok {
			kind = KindBatchStats
		} else if _, ok := m["endTime"]; ok {
			kind = KindHistoricBatch
		}
		return kind, str("id")
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
