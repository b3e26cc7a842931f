package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// The transports of /query follow the GraphQL over HTTP specification
// (https://graphql.github.io/graphql-over-http/draft/), which gqlgen's own
// POST and GET transports do only in part:
//
//   - The response media type is negotiated from Accept:
//     application/graphql-response+json when the client asks for it first,
//     else application/json (also for a missing Accept, */* and
//     application/*).
//   - A request error (the document does not parse or validate, the
//     operation is not found, a variable cannot be coerced, a persisted query
//     is unknown, ...) stops before execution; its response has no "data"
//     entry. Under application/json its status is 200 (gqlgen answers 422);
//     under application/graphql-response+json it is 400 (500 for an internal
//     error).
//   - A request that is not a GraphQL request at all (a body that is not a
//     JSON object, no query, variables or extensions that are not objects)
//     is answered 400, whatever the media type.
//   - An executed operation is answered 200 with "data" (which may be null
//     when a non-null field failed) and any field errors.
//   - GET runs queries only: another operation type is answered 405 with
//     Allow: POST (gqlgen: 406), even when it would not validate.

// Response media types.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// negotiate picks the response media type for an Accept header: the first
// acceptable entry (q > 0) that names a type served, in the client's order.
// application/json when Accept is missing or allows anything; when it names
// only types not served, application/graphql-response+json (which the
// client must understand to be a GraphQL over HTTP client).
func negotiate(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, err := strconv.ParseFloat(strings.TrimSpace(params["q"]), 64); err == nil && q <= 0 {
			continue
		}
		switch mt {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// postTransport runs GraphQL requests POSTed as application/json.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == mediaJSON
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := negotiate(r.Header.Get("Accept"))
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			sendErrorAs(w, media, http.StatusRequestEntityTooLarge, CodeBadUserInput,
				fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit))
			return
		}
		sendErrorAs(w, media, http.StatusBadRequest, CodeBadUserInput, "the request body could not be read")
		return
	}
	params := &graphql.RawParams{}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		sendErrorAs(w, media, http.StatusBadRequest, CodeParseFailed,
			"the request body is not a GraphQL request: expected a JSON object with query, operationName, variables and extensions")
		return
	}
	if err := decodeParams(fields, params); err != nil {
		sendErrorAs(w, media, http.StatusBadRequest, CodeBadUserInput, err.Error())
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, media, false)
}

// decodeParams decodes the members of a POST body's JSON object, which
// must have the right types (numbers in variables stay json.Number).
func decodeParams(fields map[string]json.RawMessage, params *graphql.RawParams) error {
	for _, f := range []struct {
		name string
		dst  any
		want string
	}{
		{"query", &params.Query, "a string"},
		{"operationName", &params.OperationName, "a string"},
		{"variables", &params.Variables, "an object"},
		{"extensions", &params.Extensions, "an object"},
	} {
		raw, ok := fields[f.name]
		if !ok {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		if err := dec.Decode(f.dst); err != nil {
			return fmt.Errorf("request body member %q is not %s", f.name, f.want)
		}
	}
	return nil
}

// getTransport runs GraphQL queries sent as GET with URL query parameters.
type getTransport struct{}

var _ graphql.Transport = getTransport{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := negotiate(r.Header.Get("Accept"))
	start := graphql.Now()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		sendErrorAs(w, media, http.StatusBadRequest, CodeBadUserInput, "the URL query string is malformed")
		return
	}
	params := &graphql.RawParams{
		Query:         q.Get("query"),
		OperationName: q.Get("operationName"),
		Headers:       r.Header,
	}
	for _, p := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(p.dst); err != nil || *p.dst == nil {
			sendErrorAs(w, media, http.StatusBadRequest, CodeBadUserInput,
				fmt.Sprintf("query parameter %q is not a JSON object", p.name))
			return
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	// A mutation is refused before validation too (this schema has none, so
	// it would not validate): the method is what is wrong.
	if doc, err := parser.ParseQuery(&ast.Source{Input: params.Query}); err == nil {
		if op := doc.Operations.ForName(params.OperationName); op != nil && op.Operation != ast.Query {
			getNotAllowed(w, media, op.Operation)
			return
		}
	}
	execute(w, r, exec, params, media, true)
}

// getNotAllowed answers a GET of an operation that is not a query: 405,
// Allow: POST.
func getNotAllowed(w http.ResponseWriter, media string, op ast.Operation) {
	w.Header().Set("Allow", http.MethodPost)
	how := "with POST"
	if op == ast.Subscription {
		how = "over a WebSocket or Server-Sent Events (POST with Accept: text/event-stream)"
	}
	sendErrorAs(w, media, http.StatusMethodNotAllowed, CodeValidationFailed,
		fmt.Sprintf("GET runs queries only: send the %s %s", op, how))
}

// execute prepares the operation and runs it, or answers its request
// errors without a data entry.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, media string, isGET bool) {
	ctx := r.Context()
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		sendErrorAs(w, media, http.StatusBadRequest, CodeBadUserInput,
			"the request has no query: send query (or extensions.persistedQuery with the hash of a query sent before)")
		return
	}
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		writeResponse(w, media, requestErrorStatus(media, resp.Errors), requestErrorResponse{Errors: resp.Errors, Extensions: resp.Extensions})
		return
	}
	if oc.Operation.Operation == ast.Subscription { // stream.go's transports take them
		sendErrorAs(w, media, http.StatusBadRequest, CodeValidationFailed,
			"a subscription needs a stream: a WebSocket (graphql-transport-ws or graphql-ws) or Server-Sent Events (POST with Accept: text/event-stream)")
		return
	}
	if isGET && oc.Operation.Operation != ast.Query { // a persisted mutation
		getNotAllowed(w, media, oc.Operation.Operation)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	if resp == nil { // gqlgen executes nothing once the context has ended
		errs := exec.DispatchError(ctx, gqlerror.List{contextEnded(ctx)}).Errors
		writeResponse(w, media, requestErrorStatus(media, errs), requestErrorResponse{Errors: errs})
		return
	}
	writeResult(w, media, resp)
}

// writeResult writes an executed operation's response. gqlgen hands over
// data already encoded; json.Marshal would validate and compact every byte
// of it again (13% of the CPU of a 60 KB page of items), so the envelope is
// written around it, and the data is not copied into a buffer of its own.
// Fields and their order are those of graphql.Response.
func writeResult(w http.ResponseWriter, media string, resp *graphql.Response) {
	head := []byte{'{'}
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			panic(fmt.Errorf("marshalling GraphQL errors: %w", err))
		}
		head = append(append(append(head, `"errors":`...), errs...), ',')
	}
	head = append(head, `"data":`...)
	data := []byte(resp.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	tail := []byte{'}'}
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			panic(fmt.Errorf("marshalling GraphQL extensions: %w", err))
		}
		tail = append(append([]byte(`,"extensions":`), ext...), '}')
	}
	h := w.Header()
	h.Set("Content-Type", media)
	// A known length spares the client chunked decoding of big pages.
	h.Set("Content-Length", strconv.Itoa(len(head)+len(data)+len(tail)))
	w.WriteHeader(http.StatusOK)
	for _, b := range [][]byte{head, data, tail} {
		if _, err := w.Write(b); err != nil {
			return // the client has gone; nothing left to tell it
		}
	}
}

// requestErrorStatus is the status of a response to a request error: 200
// under application/json; under application/graphql-response+json 400, or
// 500 when the server failed.
func requestErrorStatus(media string, errs gqlerror.List) int {
	if media == mediaJSON {
		return http.StatusOK
	}
	for _, e := range errs {
		if code, _ := e.Extensions["code"].(string); code == CodeInternal {
			return http.StatusInternalServerError
		}
	}
	return http.StatusBadRequest
}

// requestErrorResponse is the response to a request that was not executed:
// no "data" entry at all (the GraphQL spec and GraphQL over HTTP require
// its absence; gqlgen's graphql.Response writes "data": null).
type requestErrorResponse struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func writeResponse(w http.ResponseWriter, media string, status int, resp any) {
	b, err := json.Marshal(resp)
	if err != nil {
		panic(fmt.Errorf("marshalling a GraphQL response: %w", err))
	}
	w.Header().Set("Content-Type", media)
	w.WriteHeader(status)
	w.Write(b)
}

// sendErrorAs answers a request error of the HTTP layer with status and a
// coded error, in the negotiated media type and without a data entry.
func sendErrorAs(w http.ResponseWriter, media string, status int, code, msg string) {
	writeResponse(w, media, status, requestErrorResponse{Errors: gqlerror.List{
		{Message: msg, Extensions: map[string]any{"code": code}},
	}})
}

// fallbackTransport answers the requests no other transport supports: an
// unsupported method or content type, with a coded error.
type fallbackTransport struct{}

func (fallbackTransport) Supports(*http.Request) bool { return true }

func (fallbackTransport) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	media := negotiate(r.Header.Get("Accept"))
	switch r.Method {
	case http.MethodGet, http.MethodPost:
		ct := r.Header.Get("Content-Type")
		if r.Method == http.MethodPost && !strings.HasPrefix(ct, "application/json") {
			sendErrorAs(w, media, http.StatusUnsupportedMediaType, CodeBadUserInput,
				fmt.Sprintf("Content-Type %q is not supported: send application/json", ct))
			return
		}
		sendErrorAs(w, media, http.StatusBadRequest, CodeBadUserInput, "the request is not a GraphQL request")
	default:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		sendErrorAs(w, media, http.StatusMethodNotAllowed, CodeBadUserInput,
			fmt.Sprintf("method %s is not allowed: use POST, or GET for queries", r.Method))
	}
}
