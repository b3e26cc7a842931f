package syncer_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Each poll is a span "sync poll" of the global tracer provider (contract
// §12), with the engine and whether it was a full pass.
func TestPollSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	e := newEnv(t, envOpts{no7: true})
	e.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 2)
	e.run()
	eventually(t, "two polls", func() bool { return len(rec.Ended()) >= 2 })
	e.stop()

	var full, steady int
	for _, s := range rec.Ended() {
		if !assert.Equal(t, "sync poll", s.Name()) {
			continue
		}
		attrs := map[attribute.Key]attribute.Value{}
		for _, a := range s.Attributes() {
			attrs[a.Key] = a.Value
		}
		assert.Equal(t, "camunda8", attrs["batchql.sync.engine"].AsString())
		if attrs["batchql.sync.full"].AsBool() {
			full++
		} else {
			steady++
		}
	}
	assert.Equal(t, 1, full, "the first poll is the full pass")
	assert.GreaterOrEqual(t, steady, 1)
}
