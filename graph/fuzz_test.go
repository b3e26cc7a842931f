package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
)

// contractCodes are the codes of contract §6.
var contractCodes = []string{CodeBadUserInput, CodeParseFailed, CodeValidationFailed,
	CodeComplexityLimitExceeded, CodePersistedQueryNotFound, CodeInternal}

// FuzzQueryHandler sends arbitrary queries, variables and bodies to the real
// /query handler over the fixture data. mode picks the request: 0 a JSON
// POST of query, variables (raw JSON when it parses, else a string) and
// operationName; 1 a POST whose body is query itself; 2 a GET. Properties:
// no panic, a JSON object every time, and every error coded from the
// contract's list, never INTERNAL_SERVER_ERROR.
func FuzzQueryHandler(f *testing.F) {
	for _, s := range []struct {
		query, vars, op string
		mode            uint8
	}{
		{`{ batches(first: 2) { totalCount edges { cursor node { id batchId statistics { failedJobs } } } pageInfo { hasNextPage endCursor } } }`, ``, ``, 0},
		{`query Q($k: ID!, $after: String) { batchOperation(batchOperationKey: $k) { items(first: 3, after: $after, filter: {state: {in: [FAILED, ACTIVE]}}, orderBy: [{field: PROCESSED_DATE, direction: DESC}]) { totalCount nodes { itemKey batchOperation { state } } } } }`,
			`{"k":"100","after":"garbage"}`, `Q`, 0},
		{`query($f: BatchOperationFilter) { batchOperations(filter: $f) { nodes { batchOperationKey startDate errors { type } } } }`,
			`{"f":{"startDate":{"gte":"2025-06-04T11:13:43.123+02:00"},"state":{"notIn":["NOPE"]}}}`, ``, 0},
		{`query($ids: [ID!]!) { nodes(ids: $ids) { id __typename ... on Batch { batchId } } }`, `{"ids":["QmF0Y2g6MQ","x",""]}`, ``, 0},
		{`{ batchOperationItems(filter: {processInstanceKey: {like: "22*\\"}}) { totalCount } }`, ``, ``, 2},
		{`{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`, ``, ``, 1},
		{`[{"query":"{ __typename }"}]`, ``, ``, 1},
		{`{ __schema { types { name fields { name } } } }`, `null`, ``, 0},
		{`{ batches(first: 1000000, last: -1) { totalCount } }`, `[]`, `X`, 0},
		{`query($r: [_Any!]!) { _entities(representations: $r) { ... on Batch { batchId } } }`, `{"r":[{"__typename":"Batch","batchId":"1"},{"__typename":"Nope"},{}]}`, ``, 0},
		{`mutation { x }`, ``, ``, 2},
	} {
		f.Add(s.query, s.vars, s.op, s.mode)
	}
	store, err := storage.Open(filepath.Join(f.TempDir(), "fuzz.db"), storage.Options{NoSync: true, InitialMmapSize: 1 << 22})
	require.NoError(f, err)
	f.Cleanup(func() { store.Close() })
	for _, name := range fixtureFiles {
		_, err := importer.File(context.Background(), store, filepath.Join("testdata", name), importer.Options{})
		require.NoError(f, err, name)
	}
	logs := &syncBuffer{}
	h := NewHandler(store, Config{Introspection: true}, slog.New(slog.NewTextHandler(logs, nil)))

	f.Fuzz(func(t *testing.T, query, vars, op string, mode uint8) {
		var req *http.Request
		switch mode % 3 {
		case 0:
			params := map[string]any{"query": query}
			if json.Valid([]byte(vars)) {
				params["variables"] = json.RawMessage(vars)
			} else if vars != "" {
				params["variables"] = vars
			}
			if op != "" {
				params["operationName"] = op
			}
			body, err := json.Marshal(params)
			require.NoError(t, err)
			req = httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		case 1:
			req = httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(query))
			req.Header.Set("Content-Type", "application/json")
		case 2:
			q := url.Values{"query": {query}}
			if vars != "" {
				q.Set("variables", vars)
			}
			if op != "" {
				q.Set("operationName", op)
			}
			req = httptest.NewRequest(http.MethodGet, "/query?"+q.Encode(), nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var resp struct {
			Data   json.RawMessage `json:"data"`
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), "status %d, body %.300q", rec.Code, rec.Body.String())
		require.True(t, resp.Errors != nil || resp.Data != nil, "neither data nor errors: %.300q", rec.Body.String())
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			require.True(t, slices.Contains(contractCodes, code), "error without a contract code: %+v", e)
			require.NotEqual(t, CodeInternal, code, "garbage input gave an internal error: %+v\nlogs:\n%s", e, logs)
		}
		require.Less(t, rec.Code, 500, "status %d for %.300q", rec.Code, rec.Body.String())
	})
}
