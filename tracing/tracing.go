// Package tracing is batchql's OpenTelemetry tracing: an OTLP/HTTP exporter
// configured by the standard OTEL_* environment variables, a span for each
// HTTP request (otelhttp) that continues a caller's W3C traceparent, and the
// tracer the GraphQL handler starts its operation and storage spans with.
//
// Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is not
// "true", OTEL_TRACES_EXPORTER not "none"). Off, Setup returns nil and
// nothing is wrapped: a nil *Tracing costs nothing on the request path.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of batchql's own spans.
const ScopeName = "github.com/batchql/batchql"

// Tracing holds the tracer provider and propagator of a server. A nil
// *Tracing is tracing off.
type Tracing struct {
	tp       trace.TracerProvider
	shutdown func(context.Context) error
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// Configured reports whether the environment asks for traces.
func Configured(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup starts the OTLP/HTTP exporter when the environment asks for it
// (see Configured); nil, nil otherwise. The exporter itself reads its
// settings (endpoint, headers, timeout, compression, TLS) from the
// process's OTEL_EXPORTER_OTLP_* variables, the resource from
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (service.name defaults to
// batchql), the sampler from OTEL_TRACES_SAMPLER. The provider and
// propagator also become otel's globals, for outgoing clients.
func Setup(ctx context.Context, getenv func(string) string) (*Tracing, error) {
	if !Configured(getenv) {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP/HTTP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "batchql")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t := New(tp)
	t.shutdown = tp.Shutdown
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(t.prop)
	return t, nil
}

// New returns tracing over a provider (tests pass one with an in-memory
// exporter); Shutdown leaves the provider alone.
func New(tp trace.TracerProvider) *Tracing {
	return &Tracing{
		tp:     tp,
		tracer: tp.Tracer(ScopeName),
		prop:   propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Tracer is the tracer of batchql's own spans; nil when tracing is off.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return nil
	}
	return t.tracer
}

// Handler wraps h in a server span per request, continuing the caller's
// traceparent; h itself when tracing is off. A span is named after the
// method and, when it is one of routes, the path ("POST /query"); other
// paths are left out of the name, which must stay low-cardinality.
func (t *Tracing) Handler(h http.Handler, routes ...string) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, "batchql",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // metrics are Prometheus's
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if slices.Contains(routes, r.URL.Path) {
				return r.Method + " " + r.URL.Path
			}
			return r.Method
		}),
	)
}
