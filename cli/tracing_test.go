package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a small OTLP/HTTP trace receiver: it decodes the
// protobuf export requests POSTed to /v1/traces and keeps their spans.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
	errs     []error
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
		o.fail(io.ErrUnexpectedEOF)
		http.Error(w, "want a protobuf POST to /v1/traces", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			o.fail(err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	req := &coltracepb.ExportTraceServiceRequest{}
	if err == nil {
		err = proto.Unmarshal(b, req)
	}
	if err != nil {
		o.fail(err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				o.services = append(o.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			o.spans = append(o.spans, ss.GetSpans()...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (o *otlpReceiver) fail(err error) {
	o.mu.Lock()
	o.errs = append(o.errs, err)
	o.mu.Unlock()
}

// byName returns the received spans of a trace by name.
func (o *otlpReceiver) byName(traceID string) map[string]*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string]*tracepb.Span{}
	for _, s := range o.spans {
		if hex.EncodeToString(s.GetTraceId()) == traceID {
			m[s.GetName()] = s
		}
	}
	return m
}

func spanAttr(s *tracepb.Span, key string) string {
	for _, a := range s.GetAttributes() {
		if a.GetKey() == key {
			if v, ok := a.GetValue().GetValue().(*commonpb.AnyValue_IntValue); ok {
				return strconv.FormatInt(v.IntValue, 10)
			}
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

// serve with OTEL_EXPORTER_OTLP_ENDPOINT sends its spans over OTLP/HTTP:
// request → GraphQL operation → storage query, in the trace of the
// caller's traceparent.
func TestServeExportsTraces(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()

	db := filepath.Join(t.TempDir(), "traced.db")
	r := batchql(t, nil, "", "demo", "--db", db, "--batches", "10", "--operations", "3", "--items-per-operation", "2", "--progress", "never")
	require.Equal(t, 0, r.code, r.stderr)
	srv := startServer(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_SERVICE_NAME="}, "--db", db)
	assert.Contains(t, srv.logs.String(), "tracing=true")

	const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	req, err := http.NewRequest(http.MethodPost, srv.url+"/query",
		bytes.NewReader([]byte(`{"query":"query Ops { batchOperations(first: 2) { totalCount nodes { id } } }"}`)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Contains(t, string(body), `"totalCount":3`)

	var spans map[string]*tracepb.Span
	require.Eventually(t, func() bool {
		spans = recv.byName(traceID)
		return len(spans) >= 3
	}, 15*time.Second, 50*time.Millisecond, "spans of the trace: %v; logs:\n%s", spans, srv.logs)
	request, op, query := spans["POST /query"], spans["query Ops"], spans["storage query batch operation"]
	require.NotNil(t, request, "%v", spans)
	require.NotNil(t, op, "%v", spans)
	require.NotNil(t, query, "%v", spans)
	assert.Equal(t, parentID, hex.EncodeToString(request.GetParentSpanId()), "continues the caller's span")
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, request.GetKind())
	assert.Equal(t, request.GetSpanId(), op.GetParentSpanId(), "operation under request")
	assert.Equal(t, op.GetSpanId(), query.GetParentSpanId(), "storage query under operation")
	assert.Equal(t, "query", spanAttr(op, "graphql.operation.type"))
	assert.Equal(t, "Ops", spanAttr(op, "graphql.operation.name"))
	assert.NotEmpty(t, spanAttr(query, "batchql.storage.plan"))
	assert.Equal(t, 0, srv.stop())
	recv.mu.Lock()
	defer recv.mu.Unlock()
	assert.Empty(t, recv.errs)
	assert.Contains(t, recv.services, "batchql")
}
