package graph

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawResponse is a response with its top-level members undecoded, so the
// tests can tell a missing "data" from "data": null.
type rawResponse struct {
	status      int
	contentType string
	allow       string
	members     map[string]json.RawMessage
	errors      []gqlError
}

func (r rawResponse) hasData() bool { _, ok := r.members["data"]; return ok }

func (r rawResponse) code() string {
	if len(r.errors) == 0 {
		return ""
	}
	return r.errors[0].Code()
}

func doRaw(t *testing.T, h http.Handler, method, target, contentType, accept, body string) rawResponse {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	raw, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	r := rawResponse{status: rec.Code, contentType: rec.Header().Get("Content-Type"), allow: rec.Header().Get("Allow")}
	require.NoError(t, json.Unmarshal(raw, &r.members), "body: %s", raw)
	if e, ok := r.members["errors"]; ok {
		require.NoError(t, json.Unmarshal(e, &r.errors))
	}
	return r
}

func TestNegotiate(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                  mediaJSON,
		"*/*":                               mediaJSON,
		"application/*":                     mediaJSON,
		"application/json":                  mediaJSON,
		"application/json; charset=utf-8":   mediaJSON,
		"application/graphql-response+json": mediaGraphQLResponse,
		"application/graphql-response+json, application/json;q=0.9": mediaGraphQLResponse,
		"application/json, application/graphql-response+json":       mediaJSON,
		"application/json;q=0, application/graphql-response+json":   mediaGraphQLResponse,
		"text/html":   mediaGraphQLResponse,
		"not a type,": mediaGraphQLResponse,
	} {
		assert.Equal(t, want, negotiate(accept), "Accept: %q", accept)
	}
}

// TestRequestErrorStatus checks the GraphQL over HTTP status codes: a
// request error is 200 under application/json and 400 under
// application/graphql-response+json, and never has a data entry; a request
// that is not a GraphQL request is 400 either way.
func TestRequestErrorStatus(t *testing.T) {
	e := fixtureEnv(t)
	h := e.srv.Config.Handler
	apq := `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("ab", 32) + `"}}}`
	tests := []struct {
		name            string
		body            string
		code            string
		jsonStatus      int // Accept: application/json
		gqlResponseStat int // Accept: application/graphql-response+json
	}{
		{"parse failure", `{"query":"{"}`, CodeParseFailed, 200, 400},
		{"parse failure: not a document", `{"query":"{ 1 }"}`, CodeParseFailed, 200, 400},
		{"validation failure", `{"query":"{ batchez { totalCount } }"}`, CodeValidationFailed, 200, 400},
		{"unused variable", `{"query":"query Q($id: ID!) { __typename }","variables":{"id":"1"}}`, CodeValidationFailed, 200, 400},
		{"variable coercion failure", `{"query":"query($n: Int) { batches(first: $n) { totalCount } }","variables":{"n":"x"}}`, CodeValidationFailed, 200, 400},
		{"operation not found", `{"query":"query A { __typename }","operationName":"B"}`, CodeValidationFailed, 200, 400},
		{"unknown persisted query", apq, CodePersistedQueryNotFound, 200, 400},
		{"no query", `{"variables":{}}`, CodeBadUserInput, 400, 400},
		{"empty query", `{"query":""}`, CodeBadUserInput, 400, 400},
		{"body not JSON", `{"query": `, CodeParseFailed, 400, 400},
		{"body a JSON array", `[{"query":"{ __typename }"}]`, CodeParseFailed, 400, 400},
		{"body null", `null`, CodeParseFailed, 400, 400},
		{"query not a string", `{"query":{"x":1}}`, CodeBadUserInput, 400, 400},
		{"variables not an object", `{"query":"{ __typename }","variables":"{}"}`, CodeBadUserInput, 400, 400},
		{"extensions not an object", `{"query":"{ __typename }","extensions":[]}`, CodeBadUserInput, 400, 400},
		{"operationName not a string", `{"query":"{ __typename }","operationName":1}`, CodeBadUserInput, 400, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, m := range []struct {
				accept, media string
				status        int
			}{
				{"application/json", mediaJSON, tt.jsonStatus},
				{"", mediaJSON, tt.jsonStatus},
				{"application/graphql-response+json", mediaGraphQLResponse, tt.gqlResponseStat},
			} {
				r := doRaw(t, h, http.MethodPost, "/", "application/json", m.accept, tt.body)
				assert.Equal(t, m.status, r.status, "Accept %q", m.accept)
				assert.Equal(t, m.media, r.contentType, "Accept %q", m.accept)
				assert.False(t, r.hasData(), "Accept %q: a request error has no data entry: %v", m.accept, r.members)
				require.Len(t, r.errors, 1, "Accept %q", m.accept)
				assert.Equal(t, tt.code, r.code(), r.errors[0].Message)
			}
		})
	}
}

func TestExecutedResponses(t *testing.T) {
	e := fixtureEnv(t)
	h := e.srv.Config.Handler
	for _, accept := range []string{"application/json", "application/graphql-response+json", "*/*"} {
		// Success.
		r := doRaw(t, h, http.MethodPost, "/", "application/json", accept, `{"query":"{ batch(batchId: \"10\") { batchId } }"}`)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, negotiate(accept), r.contentType)
		assert.JSONEq(t, `{"batch":{"batchId":"10"}}`, string(r.members["data"]))
		assert.Empty(t, r.errors)

		// A field error after execution began: 200 with "data": null (the
		// field is non-null) and the error.
		r = doRaw(t, h, http.MethodPost, "/", "application/json", accept, `{"query":"{ batches(first: -1) { totalCount } }"}`)
		assert.Equal(t, http.StatusOK, r.status, accept)
		require.True(t, r.hasData(), "an executed operation has a data entry")
		assert.Equal(t, "null", string(r.members["data"]))
		assert.Equal(t, CodeBadUserInput, r.code())

		// GET runs queries.
		r = doRaw(t, h, http.MethodGet, "/?"+url.Values{"query": {`{ batch(batchId: "10") { batchId } }`}}.Encode(), "", accept, "")
		assert.Equal(t, http.StatusOK, r.status)
		assert.JSONEq(t, `{"batch":{"batchId":"10"}}`, string(r.members["data"]))
	}
}

func TestGETRequestErrors(t *testing.T) {
	e := fixtureEnv(t)
	h := e.srv.Config.Handler
	get := func(accept string, params url.Values) rawResponse {
		return doRaw(t, h, http.MethodGet, "/?"+params.Encode(), "", accept, "")
	}
	for _, m := range []struct {
		accept, media string
		requestError  int
	}{
		{"application/json", mediaJSON, 200},
		{"application/graphql-response+json", mediaGraphQLResponse, 400},
	} {
		r := get(m.accept, url.Values{"query": {"{"}})
		assert.Equal(t, m.requestError, r.status)
		assert.Equal(t, m.media, r.contentType)
		assert.False(t, r.hasData())
		assert.Equal(t, CodeParseFailed, r.code())

		r = get(m.accept, url.Values{"query": {"{ batchez }"}})
		assert.Equal(t, m.requestError, r.status)
		assert.False(t, r.hasData())
		assert.Equal(t, CodeValidationFailed, r.code())

		// Not a GraphQL request: 400 under both media types.
		for _, params := range []url.Values{
			{},
			{"query": {"{ __typename }"}, "variables": {"[1]"}},
			{"query": {"{ __typename }"}, "variables": {"null"}},
			{"query": {"{ __typename }"}, "extensions": {"{"}},
		} {
			r = get(m.accept, params)
			assert.Equal(t, http.StatusBadRequest, r.status, params)
			assert.Equal(t, m.media, r.contentType)
			assert.False(t, r.hasData())
			assert.Equal(t, CodeBadUserInput, r.code(), params)
		}

		// A mutation is refused with 405 and Allow: POST, even one that
		// would not validate (the schema has no mutations).
		for _, params := range []url.Values{
			{"query": {"mutation { x }"}},
			{"query": {"query Q { __typename } mutation M { x }"}, "operationName": {"M"}},
			{"query": {"subscription { x }"}},
		} {
			r = get(m.accept, params)
			assert.Equal(t, http.StatusMethodNotAllowed, r.status, params)
			assert.Equal(t, http.MethodPost, r.allow)
			assert.False(t, r.hasData())
			assert.Equal(t, CodeValidationFailed, r.code())
			assert.Contains(t, r.errors[0].Message, "GET runs queries only")
		}
		// ... but the query of such a document runs.
		r = get(m.accept, url.Values{"query": {"query Q { __typename } mutation M { x }"}, "operationName": {"Q"}})
		assert.NotEqual(t, http.StatusMethodNotAllowed, r.status)
	}
}

func TestPOSTBodyTooLarge(t *testing.T) {
	e := fixtureEnv(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 32)
		e.srv.Config.Handler.ServeHTTP(w, r)
	})
	r := doRaw(t, h, http.MethodPost, "/", "application/json", "application/graphql-response+json",
		`{"query":"{ batches(first: 1) { totalCount } }"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	assert.Equal(t, mediaGraphQLResponse, r.contentType)
	assert.False(t, r.hasData())
	assert.Equal(t, CodeBadUserInput, r.code())
	assert.Contains(t, r.errors[0].Message, "32 bytes")
}

func TestUnsupportedRequestsNegotiate(t *testing.T) {
	e := fixtureEnv(t)
	h := e.srv.Config.Handler
	r := doRaw(t, h, http.MethodPut, "/", "application/json", "application/graphql-response+json", `{"query":"{ __typename }"}`)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, mediaGraphQLResponse, r.contentType)
	assert.Equal(t, "GET, POST, OPTIONS", r.allow)
	assert.False(t, r.hasData())

	r = doRaw(t, h, http.MethodPost, "/", "text/plain", "", `{"query":"{ __typename }"}`)
	assert.Equal(t, http.StatusUnsupportedMediaType, r.status)
	assert.Equal(t, mediaJSON, r.contentType)
	assert.Equal(t, CodeBadUserInput, r.code())
}
