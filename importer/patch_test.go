package importer

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

// impPatches parses every record of a fixture into its own Patch.
func impPatches(t *testing.T, path string) []*Patch {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := newJSONScanner(f)
	var out []*Patch
	for {
		rec, err := sc.next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		p := new(Patch)
		require.NoError(t, p.parse(rec))
		p.detach()
		out = append(out, p)
	}
}

// patchValues is what a patch says, for comparisons.
func patchValues(p *Patch) any {
	switch p.kind {
	case kindOp:
		return []any{p.Kind(), p.Fields(), p.o}
	case kindItem:
		return []any{p.Kind(), p.Fields(), p.it}
	}
	return []any{p.Kind(), p.Fields(), p.b}
}

func TestPatchJSONRoundTrip(t *testing.T) {
	extra := impFile(t, "extra.ndjson", strings.Join([]string{
		// legacy state, decision item (-1), offset date, escapes, nulls
		`{"batchOperationKey":"a-b","itemKey":7,"state":"SCHEDULED","processInstanceKey":"-1","rootProcessInstanceKey":null,` +
			`"processedDate":"2024-05-14T09:12:03.417+0200","errorMessage":"line\n\"quoted\" \\ tab\t \u0001 é😀"}`,
		`{"batchOperationKey":"a-b","batchOperationType":"RESOLVE_INCIDENT","actorType":null,"endDate":null,"errors":null}`,
		`{"batchOperationKey":"9","batchOperationType":"RESOLVE_INCIDENT","errors":[{"partitionId":2,"type":"QUERY_FAILED","message":"x\u2028y"}]}`,
		`{"id":"b\u0000x","totalJobs":0,"failedJobs":3,"jobsCreated":null,"suspended":true,"tenantId":null}`,
		`{"id":"b2","totalJobs":5,"endTime":"2026-01-01T00:00:00Z","removalTime":"2026-01-02T00:00:00.000000001Z"}`,
	}, "\n"))
	var all []*Patch
	for _, f := range impAll {
		all = append(all, impPatches(t, impFixture(f))...)
	}
	all = append(all, impPatches(t, extra)...)
	require.Len(t, all, 23)
	for _, p := range all {
		data, err := json.Marshal(p)
		require.NoError(t, err)
		var q Patch
		require.NoError(t, json.Unmarshal(data, &q), "%s", data)
		assert.Equal(t, patchValues(p), patchValues(&q), "%s", data)
		again, err := q.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(data), string(again), "the JSON is canonical, and encoding/json keeps it as is")
	}
	// Normalized values in the JSON.
	data, err := json.Marshal(all[len(all)-5])
	require.NoError(t, err)
	assert.JSONEq(t, `{"batchOperationKey":"a-b","itemKey":"7","state":"ACTIVE","processInstanceKey":null,"rootProcessInstanceKey":null,`+
		`"processedDate":"2024-05-14T07:12:03.417Z","errorMessage":"line\n\"quoted\" \\ tab\t \u0001 é😀"}`, string(data))
	assert.Equal(t, KindItem, all[len(all)-5].Kind())
	assert.Equal(t, "a-b/7", all[len(all)-5].Key())
	assert.True(t, all[len(all)-5].Has("processInstanceKey"))
	assert.False(t, all[len(all)-5].Has("operationType"))
	assert.False(t, all[len(all)-5].Has("nope"))
}

// Decoded patches applied one by one give the store an import gives, and
// applying them again changes nothing.
func TestPatchApplyMatchesImport(t *testing.T) {
	imported := impOpen(t)
	applied := impOpen(t)
	ctx := context.Background()
	for _, f := range impAll {
		impRun(t, imported, impFixture(f))
		for _, p := range impPatches(t, impFixture(f)) {
			data, err := p.MarshalJSON()
			require.NoError(t, err)
			var q Patch
			require.NoError(t, q.UnmarshalJSON(data))
			require.NoError(t, applied.Update(ctx, func(w *storage.Writer) error {
				_, err := q.Apply(w)
				return err
			}))
		}
	}
	assert.Equal(t, impSnap(t, imported), impSnap(t, applied))
	checkConsistent(t, applied)
	digest := impDigest(t, applied)
	for _, f := range impAll {
		require.NoError(t, applied.Update(ctx, func(w *storage.Writer) error {
			for _, p := range impPatches(t, impFixture(f)) {
				out, err := p.Apply(w)
				if err != nil {
					return err
				}
				assert.Equal(t, storage.Unchanged, out, "%s %s", f, p.Key())
			}
			return nil
		}))
	}
	assert.Equal(t, digest, impDigest(t, applied), "applying again wrote nothing")
}

func TestPatchErrors(t *testing.T) {
	var p Patch
	_, err := p.MarshalJSON()
	assert.Error(t, err, "an empty patch has no JSON")
	for _, in := range []string{``, ` `, `[]`, `[{"id":"1","type":"t","totalJobs":1}]`, `{"id":"1","type":"t","totalJobs":1}{"id":"2","type":"t","totalJobs":1}`,
		`{"x":1}`, `{"batchOperationKey":"1","batchOperationType":"NOPE"}`, `{"id":"1"`} {
		var ie *Error
		err := p.UnmarshalJSON([]byte(in))
		assert.True(t, errors.As(err, &ie), "%s: %v", in, err)
	}

	// A patch that lacks what a new record needs fails where its record is
	// not stored, and writes nothing.
	s := impOpen(t)
	require.NoError(t, json.Unmarshal([]byte(`{"batchOperationKey":"5","itemKey":"6","state":"ACTIVE"}`), &p))
	err = s.Update(context.Background(), func(w *storage.Writer) error {
		_, err := p.Apply(w)
		return err
	})
	assert.ErrorContains(t, err, `batch operation item 5/6: field "operationType" is missing and the record is not stored`)
	require.NoError(t, json.Unmarshal([]byte(`{"batchOperationKey":"5","batchOperationType":"RESOLVE_INCIDENT"}`), &p))
	err = s.Update(context.Background(), func(w *storage.Writer) error {
		_, err := p.Apply(w)
		return err
	})
	assert.ErrorContains(t, err, `batch operation 5: field "state" is missing`)
	assert.Empty(t, impSnap(t, s).Ops)
}
