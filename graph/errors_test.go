package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/batchql/batchql/globalid"
	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/graph/model"
	"github.com/batchql/batchql/storage"
)

func TestBadUserInput(t *testing.T) {
	e := fixtureEnv(t)
	first := at(t, e.query(`{ batches(first: 1) { pageInfo { endCursor } } }`, nil), "batches", "pageInfo", "endCursor").(string)
	ordered := at(t, e.query(`{ batches(first: 1, orderBy: [{field: TYPE}]) { pageInfo { endCursor } } }`, nil),
		"batches", "pageInfo", "endCursor").(string)
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		// the message must contain each
		want []string
		path []any
	}{
		{"garbled after", `{ batches(after: "garbage") { totalCount } }`, nil, []string{`"after"`, `"garbage"`}, []any{"batches"}},
		{"garbled before", `{ batchOperations(before: "AAAA", last: 1) { totalCount } }`, nil, []string{`"before"`, `"AAAA"`}, nil},
		{"cursor of another connection", `query($c: String) { batchOperations(after: $c) { totalCount } }`,
			map[string]any{"c": first}, []string{`"after"`}, nil},
		{"cursor of another order", `query($c: String) { batches(after: $c) { totalCount } }`,
			map[string]any{"c": ordered}, []string{`"after"`}, nil},
		{"cursor of another order, nested", `query($c: String) { batchOperation(batchOperationKey: "100") { items(before: $c) { totalCount } } }`,
			map[string]any{"c": first}, []string{`"before"`}, []any{"batchOperation", "items"}},
		{"negative first", `{ batches(first: -1) { totalCount } }`, nil, []string{`"first"`, `-1`, "negative"}, []any{"batches"}},
		{"negative last", `{ batchOperationItems(last: -5) { totalCount } }`, nil, []string{`"last"`, `-5`}, nil},
		{"first over max", `{ batches(first: 2000) { totalCount } }`, nil, []string{`"first"`, `2000`, "at most 1000"}, nil},
		{"last over max", `query($n: Int) { batchOperations(last: $n) { totalCount } }`, map[string]any{"n": 1001},
			[]string{`"last"`, `1001`, "at most 1000"}, nil},
		{"nested first over max", `{ batchOperation(batchOperationKey: "100") { items(first: 1001) { totalCount } } }`, nil,
			[]string{`"first"`, `1001`}, []any{"batchOperation", "items"}},
		{"first and last", `{ batches(first: 1, last: 1) { totalCount } }`, nil, []string{`"last"`, `"first"`}, nil},
		{"bad like pattern", `{ batches(filter: {batchId: {like: "abc\\"}}) { totalCount } }`, nil,
			[]string{`"filter.batchId.like"`, `abc\\`}, nil},
		{"bad DateTime literal", `{ batches(filter: {startTime: {gte: "yesterday"}}) { totalCount } }`, nil,
			[]string{`"filter.startTime.gte"`, `"yesterday"`, "RFC 3339"}, nil},
		{"bad DateTime variable", `query($f: BatchOperationFilter) { batchOperations(filter: $f) { totalCount } }`,
			map[string]any{"f": map[string]any{"endDate": map[string]any{"lt": "2025-06-04 11:13:43"}}},
			[]string{`"filter.endDate.lt"`, `"2025-06-04 11:13:43"`}, nil},
		{"DateTime without zone", `{ batchOperationItems(filter: {processedDate: {eq: "2025-06-04T11:13:43"}}) { totalCount } }`, nil,
			[]string{`"filter.processedDate.eq"`}, nil},
		{"DateTime with 10 fraction digits", `{ batchOperationItems(filter: {processedDate: {eq: "2025-06-04T11:13:43.1234567890Z"}}) { totalCount } }`, nil,
			[]string{`"filter.processedDate.eq"`}, nil},
		{"DateTime not a string", `query($f: DateTimeFilter) { batches(filter: {endTime: $f}) { totalCount } }`,
			map[string]any{"f": map[string]any{"eq": 12}}, []string{`"filter.endTime.eq"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.queryErr(tt.query, tt.vars)
			assert.Equal(t, CodeBadUserInput, err.Code(), err.Message)
			for _, w := range tt.want {
				assert.Contains(t, err.Message, w)
			}
			if tt.path != nil {
				assert.Equal(t, tt.path, err.Path)
			}
		})
	}
}

func TestMaxPageSizeConfig(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxPageSize: 50}}, fill)
	data := e.query(`{ batchOperationItems(first: 50) { nodes { itemKey } } }`, nil)
	assert.Len(t, at(t, data, "batchOperationItems", "nodes"), 50)
	err := e.queryErr(`{ batchOperationItems(last: 51) { nodes { itemKey } } }`, nil)
	assert.Equal(t, CodeBadUserInput, err.Code())
	assert.Contains(t, err.Message, `argument "last" (value 51): must be at most 50`)
}

func TestProtocolErrors(t *testing.T) {
	e := fixtureEnv(t)
	tests := []struct {
		name   string
		resp   func() gqlResponse
		code   string
		substr string
	}{
		{"parse error", func() gqlResponse { return e.post(map[string]any{"query": `{ batches(first: 1 { totalCount } }`}) },
			CodeParseFailed, ""},
		{"unknown field", func() gqlResponse { return e.post(map[string]any{"query": `{ batchez { totalCount } }`}) },
			CodeValidationFailed, "batchez"},
		{"unknown argument", func() gqlResponse { return e.post(map[string]any{"query": `{ batches(limit: 1) { totalCount } }`}) },
			CodeValidationFailed, "limit"},
		{"unknown enum value", func() gqlResponse {
			return e.post(map[string]any{"query": `{ batches(orderBy: [{field: CREATED}]) { totalCount } }`})
		}, CodeValidationFailed, "CREATED"},
		{"bad variable type", func() gqlResponse {
			return e.post(map[string]any{"query": `query($n: Int) { batches(first: $n) { totalCount } }`, "variables": map[string]any{"n": "x"}})
		}, CodeValidationFailed, ""},
		{"mutation", func() gqlResponse { return e.post(map[string]any{"query": `mutation { x }`}) }, CodeValidationFailed, ""},
		{"unknown operation name", func() gqlResponse {
			return e.post(map[string]any{"query": `query A { __typename }`, "operationName": "B"})
		}, CodeValidationFailed, "B"},
		{"body not JSON", func() gqlResponse { return e.postRaw("application/json", `{"query": `) }, CodeParseFailed, "JSON"},
		{"unknown persisted query", func() gqlResponse {
			return e.post(map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{
				"version": 1, "sha256Hash": strings.Repeat("ab", 32)}}})
		}, CodePersistedQueryNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.resp()
			require.Len(t, r.Errors, 1)
			assert.Equal(t, tt.code, r.Errors[0].Code(), r.Errors[0].Message)
			assert.Contains(t, r.Errors[0].Message, tt.substr)
			assert.Nil(t, r.Data)
		})
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	e := fixtureEnv(t)
	query := `{ batch(batchId: "2") { batchId } }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}

	r := e.post(map[string]any{"extensions": ext})
	require.Len(t, r.Errors, 1)
	assert.Equal(t, CodePersistedQueryNotFound, r.Errors[0].Code())

	r = e.post(map[string]any{"query": query, "extensions": ext})
	require.Empty(t, r.Errors)
	assert.Equal(t, "2", at(t, r.Data, "batch", "batchId"))

	r = e.post(map[string]any{"extensions": ext})
	require.Empty(t, r.Errors)
	assert.Equal(t, "2", at(t, r.Data, "batch", "batchId"))

	extJSON := `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`
	r = e.get(url.Values{"extensions": {extJSON}})
	require.Empty(t, r.Errors)
	assert.Equal(t, "2", at(t, r.Data, "batch", "batchId"))

	r = e.post(map[string]any{"query": `{ __typename }`, "extensions": ext})
	require.Len(t, r.Errors, 1)
	assert.Equal(t, CodeBadUserInput, r.Errors[0].Code())
	assert.Contains(t, r.Errors[0].Message, "hash does not match")
}

// panicRoot makes Query.batch panic; everything else is the real resolver.
type panicRoot struct{ *Resolver }

func (p panicRoot) Query() generated.QueryResolver { return &panicQuery{queryResolver(p)} }

type panicQuery struct{ queryResolver }

func (*panicQuery) Batch(context.Context, string) (*storage.Batch, error) {
	var ids []string
	_ = ids[len(ids)] // a runtime panic, not a panic(...) call: index out of range
	return nil, nil
}

func TestResolverPanic(t *testing.T) {
	e := newEnv(t, envOptions{root: func(r *Resolver) generated.ResolverRoot { return panicRoot{r} }}, fill)
	r := e.post(map[string]any{"query": `{ batch(batchId: "1") { batchId } other: batches(first: 1) { nodes { batchId } } }`})
	require.Len(t, r.Errors, 1)
	err := r.Errors[0]
	assert.Equal(t, CodeInternal, err.Code())
	assert.Equal(t, "internal server error", err.Message)
	assert.Equal(t, []any{"batch"}, err.Path)
	assert.Len(t, err.Extensions, 1, "only the code: %v", err.Extensions)
	// The rest of the request and later requests are unaffected.
	assert.Nil(t, r.Data["batch"])
	assert.Equal(t, []string{"1"}, pluck(t, r.Data, "batchId", "other", "nodes"))
	assert.Equal(t, "1", at(t, e.query(`{ batchOperationItems(first: 1) { nodes { itemKey } } }`, nil),
		"batchOperationItems", "nodes", 0, "itemKey"))
	// The panic is logged with its stack, for operators only.
	assert.Contains(t, e.logs.String(), "index out of range")
	assert.Contains(t, e.logs.String(), "errors_test.go")
}

func TestInternalErrorsAreHidden(t *testing.T) {
	e := fixtureEnv(t)
	require.NoError(t, e.store.Close())
	for _, q := range []string{
		`{ batch(batchId: "1") { batchId } }`,
		`{ batches { totalCount } }`,
		`{ batchOperations { nodes { batchOperationKey } } }`,
		`query($id: ID!) { node(id: $id) { id } }`,
	} {
		t.Run(q, func(t *testing.T) {
			r := e.post(map[string]any{"query": q, "variables": map[string]any{"id": globalid.Batch("1")}})
			require.Len(t, r.Errors, 1)
			assert.Equal(t, CodeInternal, r.Errors[0].Code())
			assert.Equal(t, "internal server error", r.Errors[0].Message)
			assert.Len(t, r.Errors[0].Extensions, 1)
		})
	}
	assert.Contains(t, e.logs.String(), "database not open")
}

func TestGET(t *testing.T) {
	e := fixtureEnv(t)
	r := e.get(url.Values{"query": {`query($id: ID!) { batch(batchId: $id) { batchId type } }`}, "variables": {`{"id": "10"}`}})
	require.Empty(t, r.Errors)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, map[string]any{"batchId": "10", "type": "set-job-retries"}, r.Data["batch"])

	r = e.get(url.Values{"query": {`mutation { x }`}})
	require.Len(t, r.Errors, 1)
	assert.NotEqual(t, 200, r.Status)
	assert.Equal(t, CodeValidationFailed, r.Errors[0].Code())

	r = e.get(url.Values{"query": {`query($id: ID!) { batch(batchId: $id) { batchId } }`}, "variables": {`{"id": `}})
	require.Len(t, r.Errors, 1)
	assert.Equal(t, 400, r.Status)
	assert.Equal(t, CodeBadUserInput, r.Errors[0].Code())
	assert.Contains(t, r.Errors[0].Message, `"variables"`)

	// Other methods and content types are refused with a coded error;
	// OPTIONS tells which methods are served.
	req, err := http.NewRequest(http.MethodPut, e.srv.URL, strings.NewReader(`{"query":"{ __typename }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r = decodeResponse(t, resp)
	assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
	require.Len(t, r.Errors, 1)
	assert.Equal(t, CodeBadUserInput, r.Errors[0].Code())
	assert.Contains(t, r.Errors[0].Message, "PUT")

	r = e.postRaw("text/plain", `{"query":"{ __typename }"}`)
	assert.Equal(t, http.StatusUnsupportedMediaType, r.Status)
	require.Len(t, r.Errors, 1)
	assert.Equal(t, CodeBadUserInput, r.Errors[0].Code())

	req, err = http.NewRequest(http.MethodOptions, e.srv.URL, nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Less(t, resp.StatusCode, 300)
	assert.Contains(t, resp.Header.Get("Allow"), "GET")
	assert.Contains(t, resp.Header.Get("Allow"), "POST")
}

func TestIntrospection(t *testing.T) {
	const q = `{ __schema { queryType { name } } }`
	t.Run("on", func(t *testing.T) {
		e := newEnv(t, envOptions{cfg: Config{Introspection: true}}, nil)
		assert.Equal(t, "Query", at(t, e.query(q, nil), "__schema", "queryType", "name"))
		// The SDL's doc strings are the API documentation.
		d := e.query(`{ __type(name: "DateTime") { description } }`, nil)
		assert.Contains(t, at(t, d, "__type", "description"), "2025-06-04T11:13:43.123Z")
	})
	t.Run("off", func(t *testing.T) {
		e := newEnv(t, envOptions{}, nil)
		for _, q := range []string{
			q,
			`{ __type(name: "Batch") { name } }`,
			`{ ...F } fragment F on Query { __schema { types { name } } }`,
			`{ ... on Query { __type(name: "Batch") { name } } }`,
		} {
			r := e.post(map[string]any{"query": q})
			require.Len(t, r.Errors, 1, q)
			assert.Equal(t, CodeValidationFailed, r.Errors[0].Code())
			assert.Contains(t, r.Errors[0].Message, "introspection")
			assert.Nil(t, r.Data)
		}
		assert.Equal(t, "Query", e.query(`{ __typename }`, nil)["__typename"])
	})
}

func TestDateTimeScalar(t *testing.T) {
	ctx := context.Background()
	for _, in := range []string{
		"2025-06-04T11:13:43Z", "2025-06-04T11:13:43.1Z", "2025-06-04T11:13:43.123456789Z",
		"2025-06-04T13:13:43.123+02:00", "2025-06-04T06:13:43.123-05:00", "2025-06-04t11:13:43z",
		// Camunda 7's offsets without a colon: import takes them, so filters do (contract §4)
		"2025-06-04T13:13:43+0200", "2025-06-04T06:13:43.417-0500",
	} {
		got, err := model.UnmarshalDateTime(ctx, in)
		assert.NoError(t, err, in)
		assert.Equal(t, "2025-06-04T11:13:43", got.UTC().Format("2006-01-02T15:04:05"), in)
	}
	for _, in := range []any{
		"", "2025-06-04", "2025-06-04T11:13:43", "2025-06-04 11:13:43Z", "2025-06-04T11:13:43.Z",
		"2025-06-04T11:13:43.1234567891Z", "2025-06-04T11:13:43+02", "2025-13-04T11:13:43Z", 12, nil,
	} {
		_, err := model.UnmarshalDateTime(ctx, in)
		assert.Error(t, err, "%v", in)
	}
	tm, err := model.UnmarshalDateTime(ctx, "2025-06-04T13:13:43.123999+02:00")
	require.NoError(t, err)
	assert.Equal(t, "2025-06-04T11:13:43.123Z", model.FormatDateTime(tm))
	tm, err = model.UnmarshalDateTime(ctx, "2025-06-04T11:13:43Z")
	require.NoError(t, err)
	assert.Equal(t, "2025-06-04T11:13:43.000Z", model.FormatDateTime(tm))
}

// A storage.InputError reaches the client as BAD_USER_INPUT with the same
// message whether a resolver mapped it (storageError) or it reached the
// presenter unmapped (wrapped in a gqlerror at a path): one mapping.
func TestInputErrorOneMapping(t *testing.T) {
	present := errorPresenter(slog.New(slog.DiscardHandler))
	path := ast.Path{ast.PathName("batchOperations"), ast.PathIndex(2), ast.PathName("items")}
	for _, tt := range []struct {
		name string
		ie   *storage.InputError
		want string
	}{
		{"with a value", &storage.InputError{Arg: "after", Value: "garbage", Reason: "not a cursor"}, `argument "after" (value "garbage"): not a cursor`},
		{"without a value", &storage.InputError{Arg: "orderBy", Reason: "a field twice"}, `argument "orderBy": a field twice`},
		{"a number", &storage.InputError{Arg: "last", Value: "51", Bare: true, Reason: "must be at most 50"}, `argument "last" (value 51): must be at most 50`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wrapped := fmt.Errorf("reading items: %w", tt.ie)
			mapped, ok := storageError(wrapped).(*gqlerror.Error)
			require.True(t, ok)
			presented := present(context.Background(), &gqlerror.Error{Message: wrapped.Error(), Path: path, Err: wrapped})
			for _, e := range []*gqlerror.Error{mapped, presented} {
				assert.Equal(t, tt.want, e.Message)
				assert.Equal(t, CodeBadUserInput, e.Extensions["code"])
			}
			assert.Equal(t, path, presented.Path)
		})
	}
	assert.Nil(t, storageError(nil))
	other := errors.New("disk on fire")
	assert.Equal(t, other, storageError(other), "not an input error: left for the presenter to hide")
}
