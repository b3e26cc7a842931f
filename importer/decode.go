package importer

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/batchql/batchql/storage"
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

// Response is an engine response body decoded by DecodeResponse.
type Response struct {
	Patches []*Patch // the valid records keep kept, in order
	Bad     []Rejected
	Records int // records read: valid (kept or not) and bad
	// Search is set when the body is a search response whose items member
	// is an array; EndCursor is then its page.endCursor (nil when absent
	// or null).
	Search    bool
	EndCursor *string
}

// DecodeResponse decodes the records of an engine response body: a JSON
// array of records (Camunda 7 lists) or a search response {items, page}
// (Camunda 8), read by the import's scanner. Each record becomes a fresh
// Patch, validated as import validates a record of a file, or a Rejected.
// Malformed JSON, an element that is not an object, or an empty body is an
// error: nothing of such a body is usable. The body is scanned once: keep,
// when not nil, is shown each record in order with its JSON text (valid only during
// the call), a valid one with its Patch and a bad one (also in Bad) with p
// nil; a valid record for which keep returns false is left out of
// Patches. The sync leaves out records it has stored before, unchanged.
func DecodeResponse(body []byte, keep func(p *Patch, raw []byte) bool) (Response, error) {
	sc := newJSONScannerBytes(body)
	var r Response
	for {
		rec, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Response{}, err
		}
		r.Records++
		storage.GiveWay(r.Records) // the sync decodes beside the queries
		p := new(Patch)
		if err := p.parse(rec); err != nil {
			var ie *Error
			if !errors.As(err, &ie) {
				ie = &Error{Reason: err.Error()}
			}
			ie.Record, ie.Line = rec.num, 0
			kind, key := rec.identity()
			r.Bad = append(r.Bad, Rejected{Kind: kind, Key: key, Err: ie})
			if keep != nil {
				keep(nil, rec.body)
			}
			continue
		}
		// p is fresh: its pointers into itself (Patch's backing fields)
		// need no detach
		if keep == nil || keep(p, rec.body) {
			r.Patches = append(r.Patches, p)
		}
	}
	if sc.values == 0 {
		return Response{}, errors.New(errEmpty)
	}
	if sc.env.num > 0 && sc.env.list {
		r.Search = true
		var page struct {
			EndCursor *string `json:"endCursor"`
		}
		if len(sc.env.page) > 0 && json.Unmarshal(sc.env.page, &page) == nil {
			r.EndCursor = page.EndCursor
		}
	}
	return r, nil
}

// Item is an item patch's record: its operation and item keys, state and
// processedDate as they are stored (a field the record lacks is zero);
// ok is false for a patch of another kind.
func (p *Patch) Item() (it storage.BatchOperationItem, ok bool) {
	if p.kind != kindItem {
		return storage.BatchOperationItem{}, false
	}
	return p.it, true
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
