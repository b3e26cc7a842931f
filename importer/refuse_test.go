package importer

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportRefusesNonRecords: an empty input and an engine's error
// response are refused with a message that says what they are, and nothing
// is written.
func TestImportRefusesNonRecords(t *testing.T) {
	op := `{"batchOperationKey":"1","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`
	for _, c := range []struct {
		name, content string
		record        int64
		want          string // the whole message after "import FILE"
	}{
		{"empty file", "", 0, ": empty input: no records"},
		{"whitespace only", " \n\t\r\n", 0, ": empty input: no records"},
		{"byte order mark only", "\xEF\xBB\xBF\n", 0, ": empty input: no records"},
		{"Camunda 8 problem detail", `{"type":"about:blank","title":"UNAUTHORIZED","status":401,"detail":"The request lacks valid credentials","instance":"/v2/batch-operations/search"}`,
			0, ": the input is an error response from the engine, not records: 401 UNAUTHORIZED: The request lacks valid credentials (/v2/batch-operations/search)"},
		{"Camunda 8 problem detail, 503", "{\n  \"type\": \"about:blank\",\n  \"title\": \"RESOURCE_EXHAUSTED\",\n  \"status\": 503,\n  \"detail\": \"Expected to handle request, but there was a queue overflow\",\n  \"instance\": \"/v2/batch-operation-items/search\"\n}\n",
			0, ": the input is an error response from the engine, not records: 503 RESOURCE_EXHAUSTED: Expected to handle request"},
		{"Camunda 7 exception", `{"type":"InvalidRequestException","message":"Batch with id 'nope' does not exist","code":null}`,
			0, ": the input is an error response from the engine, not records: InvalidRequestException: Batch with id 'nope' does not exist"},
		{"Camunda 7 exception with code", `{"type":"AuthorizationException","message":"The user with id 'demo' does not have 'READ' permission on resource 'Batch'.","code":0}`,
			0, ": the input is an error response from the engine, not records: AuthorizationException: The user with id 'demo' does not have 'READ' permission on resource 'Batch'. (code 0)"},
		{"error body after records keeps its record number", op + "\n" + op + "\n" + `{"type":"RestException","message":"boom"}`,
			3, " record 3 (line 3): the input is an error response from the engine, not records: RestException: boom"},
		{"a batch record with a type is not an error body", `{"type":"NoSuchException","message":"x","totalJobs":1}`,
			1, " record 1 (line 1): field \"id\": is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := impOpen(t)
			impRun(t, s, impFile(t, "seed.json", op))
			before := impDigest(t, s)
			path := impFile(t, "in.json", c.content)
			st, err := File(context.Background(), s, path, Options{})
			require.Error(t, err)
			assert.Nil(t, st)
			var ie *Error
			require.True(t, errors.As(err, &ie), "%T %v", err, err)
			assert.Equal(t, c.record, ie.Record)
			assert.Contains(t, err.Error(), "import "+path+c.want)
			assert.Equal(t, before, impDigest(t, s), "nothing written")
		})
	}
}

// TestImportPageWarnings: a search response that holds part of its result
// is imported, with a warning naming page.endCursor.
func TestImportPageWarnings(t *testing.T) {
	op := func(k string) string {
		return `{"batchOperationKey":"` + k + `","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}`
	}
	for _, c := range []struct {
		name, content string
		records       int64
		want          []string // substrings, one per warning
	}{
		{"complete page", `{"items":[` + op("1") + `,` + op("2") + `],"page":{"totalItems":2,"hasMoreTotalItems":false,"startCursor":"WyIxIl0=","endCursor":"WyIyIl0="}}`, 2, nil},
		{"no page", `{"items":[` + op("1") + `]}`, 1, nil},
		{"page without totalItems (not a search page)", `{"items":[` + op("1") + `],"page":{"x":1}}`, 1, nil},
		{"partial page", `{"items":[` + op("1") + `,` + op("2") + `],"page":{"totalItems":250,"hasMoreTotalItems":false,"startCursor":"WyIxIl0=","endCursor":"WyIyIl0="}}`, 2,
			[]string{`search response 1 (line 1) holds 2 of page.totalItems 250 items: the rest was not imported; fetch the next page with "page": {"after": "WyIyIl0="} and import it too`}},
		{"page first", `{"page":{"endCursor":"WyI5Il0=","totalItems":3},` + "\n" + `"items":[` + op("1") + `]}`, 1,
			[]string{`search response 1 (line 1) holds 1 of page.totalItems 3 items`, `"WyI5Il0="`}},
		{"capped count", `{"items":[` + op("1") + `],"page":{"totalItems":1,"hasMoreTotalItems":true,"endCursor":"WyIxIl0="}}`, 1,
			[]string{`holds 1 items of more than page.totalItems 1 (page.hasMoreTotalItems is true`}},
		{"null endCursor", `{"items":[` + op("1") + `],"page":{"totalItems":5,"endCursor":null}}`, 1,
			[]string{`page.endCursor is null`}},
		{"two responses, the second partial", `{"items":[` + op("1") + `],"page":{"totalItems":1}}` + "\n" + `{"items":[` + op("2") + `],"page":{"totalItems":9,"endCursor":"c2"}}`, 2,
			[]string{`search response 2 (line 2) holds 1 of page.totalItems 9 items`}},
		{"empty items, totalItems above zero", `{"items":[],"page":{"totalItems":4,"endCursor":null}}`, 0,
			[]string{`holds 0 of page.totalItems 4 items`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := impOpen(t)
			st := impRun(t, s, impFile(t, "in.json", c.content))
			assert.Equal(t, c.records, st.Records)
			assert.Equal(t, c.records, st.Kinds[KindBatchOperation].New)
			if len(c.want) == 0 {
				assert.Empty(t, st.Warnings)
				return
			}
			require.Len(t, st.Warnings, 1, st.Warnings)
			for _, w := range c.want {
				assert.Contains(t, st.Warnings[0], w)
			}
		})
	}
}
