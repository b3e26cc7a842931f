package importer

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

// DecodeResponse takes a search response or an array record by record: bad
// records come back rejected with their kind and key, the others as
// patches; malformed JSON is an error for the whole body.
func TestDecodeResponseRecords(t *testing.T) {
	body := []byte(`{"items":[
	 {"batchOperationKey":"1","state":"ACTIVE","batchOperationType":"CANCEL_PROCESS_INSTANCE","errors":[]},
	 {"batchOperationKey":"2","state":"ACTIVE","batchOperationType":"FUTURE_TYPE"},
	 {"batchOperationKey":"3","itemKey":"30","state":"ACTIVE","processedDate":"yesterday"},
	 {"batchOperationType":"CANCEL_PROCESS_INSTANCE"},
	 {"batchOperationKey":"4","itemKey":"40","state":"COMPLETED","operationType":"CANCEL_PROCESS_INSTANCE"}
	],"page":{"totalItems":5,"hasMoreTotalItems":false,"startCursor":"a","endCursor":"b"}}`)
	patches, bad, err := decode(body)
	require.NoError(t, err)
	require.Len(t, patches, 2)
	assert.Equal(t, "1", patches[0].Key())
	assert.Equal(t, KindItem, patches[1].Kind())
	assert.Equal(t, "4/40", patches[1].Key())
	require.Len(t, bad, 3)
	for i, want := range []struct {
		kind, key, field, value string
		record                  int64
	}{
		{KindBatchOperation, "2", "batchOperationType", `"FUTURE_TYPE"`, 2},
		{KindItem, "3/30", "processedDate", `"yesterday"`, 3},
		{KindBatchOperation, "", "batchOperationKey", "", 4},
	} {
		assert.Equal(t, want.kind, bad[i].Kind)
		assert.Equal(t, want.key, bad[i].Key)
		assert.Equal(t, want.field, bad[i].Err.Field)
		assert.Equal(t, want.value, bad[i].Err.Value)
		assert.Equal(t, want.record, bad[i].Err.Record)
		assert.NotEmpty(t, bad[i].Err.Reason)
	}

	patches, bad, err = decode([]byte(`[{"id":"b1","type":"instance-migration","totalJobs":3,"remainingJobs":1,"completedJobs":2,"failedJobs":0},
		{"id":"b2","totalJobs":3,"endTime":"2024-05-14T09:12:03.417+0200"}]`))
	require.NoError(t, err)
	assert.Len(t, patches, 2)
	assert.Empty(t, bad)

	for _, garbage := range []string{`{"items":[{"batchOperationKey":"22`, `<html>`, `[1,`} {
		_, _, err := decode([]byte(garbage))
		assert.Error(t, err, garbage)
	}
}

// IsMissing names the field a new record lacks.
func TestIsMissing(t *testing.T) {
	s, err := storage.Open(filepath.Join(t.TempDir(), "m.db"), storage.Options{})
	require.NoError(t, err)
	defer s.Close()
	patches, _, err := decode([]byte(`[{"batchOperationKey":"9","itemKey":"90","state":"ACTIVE"}]`))
	require.NoError(t, err)
	require.NoError(t, s.Update(t.Context(), func(w *storage.Writer) error {
		_, err := patches[0].Apply(w)
		field, ok := IsMissing(err)
		assert.True(t, ok, "%v", err)
		assert.Equal(t, "operationType", field)
		return nil
	}))
	_, ok := IsMissing(assert.AnError)
	assert.False(t, ok)
}

// An empty body is no response at all, not an empty page: an error, as
// it was when encoding/json split the body.
func TestDecodeResponseEmpty(t *testing.T) {
	for _, body := range []string{"", " \n"} {
		_, _, err := decode([]byte(body))
		assert.Error(t, err, "%q", body)
	}
	patches, bad, err := decode([]byte(`{"items":[],"page":{"totalItems":0}}`))
	require.NoError(t, err)
	assert.Empty(t, patches)
	assert.Empty(t, bad)
}

// DecodeResponse shows every record to keep once (a bad one with a nil
// patch), leaves out what keep refuses, and reads the search response's
// page: its records and endCursor.
func TestDecodeResponse(t *testing.T) {
	body := []byte(`{"items":[
	 {"batchOperationKey":"3","itemKey":"30","state":"COMPLETED","processedDate":"2024-05-14T09:12:03.417Z"},
	 {"batchOperationKey":"3","itemKey":"31","state":"ACTIVE","processedDate":"yesterday"},
	 {"batchOperationKey":"3","itemKey":"32","state":"SCHEDULED"}
	],"page":{"totalItems":3,"hasMoreTotalItems":false,"startCursor":"a","endCursor":"b"}}`)
	orig := slices.Clone(body)
	var seen []string
	r, err := DecodeResponse(body, func(p *Patch, raw []byte) bool {
		if p == nil {
			seen = append(seen, "bad "+string(raw[len(raw)-28:]))
			return true
		}
		it, ok := p.Item()
		require.True(t, ok)
		seen = append(seen, it.ItemKey+" "+string(it.State))
		return it.ItemKey != "30"
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"30 COMPLETED", `bad "processedDate":"yesterday"}`, "32 ACTIVE"}, seen)
	require.Len(t, r.Patches, 1)
	assert.Equal(t, "3/32", r.Patches[0].Key())
	require.Len(t, r.Bad, 1)
	assert.Equal(t, "3/31", r.Bad[0].Key)
	assert.Equal(t, 3, r.Records)
	assert.True(t, r.Search)
	require.NotNil(t, r.EndCursor)
	assert.Equal(t, "b", *r.EndCursor)
	assert.Equal(t, orig, body, "the body is scanned in place, not changed")

	r, err = DecodeResponse([]byte("\xEF\xBB\xBF"+`[{"id":"b1","type":"t","totalJobs":1}]`), nil)
	require.NoError(t, err, "a byte order mark is skipped")
	assert.Equal(t, 1, r.Records)
	assert.False(t, r.Search)

	r, err = DecodeResponse([]byte(`{"items":[],"page":{"totalItems":0,"endCursor":null}}`), nil)
	require.NoError(t, err)
	assert.True(t, r.Search)
	assert.Nil(t, r.EndCursor)
	assert.Zero(t, r.Records)

	for _, notSearch := range []string{`[{"id":"b1","type":"t","totalJobs":1}]`, `{"items":null,"page":{}}`, `{"page":{"endCursor":"x"}}`} {
		r, err := DecodeResponse([]byte(notSearch), nil)
		require.NoError(t, err, notSearch)
		assert.False(t, r.Search, notSearch)
	}

	p := new(Patch)
	require.NoError(t, p.UnmarshalJSON([]byte(`{"batchOperationKey":"1","state":"ACTIVE","batchOperationType":"CANCEL_PROCESS_INSTANCE"}`)))
	_, ok := p.Item()
	assert.False(t, ok, "an operation's patch is not an item")
}

// decode is DecodeResponse without a keep: every valid record's patch and
// every bad one.
func decode(body []byte) ([]*Patch, []Rejected, error) {
	r, err := DecodeResponse(body, nil)
	return r.Patches, r.Bad, err
}
