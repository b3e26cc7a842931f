package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigured(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{"only other settings", map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_HEADERS": "a=b"}, false},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Configured(env(tc.env)))
		})
	}
}

// Off, nothing is set up and nothing is wrapped.
func TestOff(t *testing.T) {
	tr, err := Setup(context.Background(), env(nil))
	require.NoError(t, err)
	assert.Nil(t, tr)
	assert.Nil(t, tr.Tracer())
	assert.NoError(t, tr.Shutdown(context.Background()))
	h := &struct{ http.Handler }{http.NotFoundHandler()}
	assert.Same(t, h, tr.Handler(h, "/query"), "the handler itself, unwrapped")
}

// Span names carry the path only for the routes named.
func TestHandlerSpanNames(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	h := New(tp).Handler(http.NotFoundHandler(), "/query")
	for _, target := range []string{"/query", "/random/123"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	var names []string
	for _, s := range exp.GetSpans().Snapshots() {
		names = append(names, s.Name())
	}
	assert.Equal(t, []string{"GET /query", "GET"}, names)
}
