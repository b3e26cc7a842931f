package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/batchql/batchql/storage"
)

// Operation is what the GraphQL handler learned about one request, for the
// HTTP middleware around it (the access log, the request metrics): the
// observer extension fills it in when gqlgen answers.
type Operation struct {
	// Answered is set when gqlgen produced a response; a request that
	// failed before (a body too large, a busy server) leaves it false.
	Answered bool
	// Type is query, mutation or subscription; "" when the document did
	// not parse or validate.
	Type string
	// Name is the operation's name from the validated document (also for
	// GET and persisted queries); "" for an anonymous operation. When the
	// document did not validate (Type ""), the operationName the request
	// asked for, unchecked.
	Name string
	// Code is the extensions.code of the response's first error; "" when
	// it has none.
	Code string
}

type operationKey struct{}

// WithOperation returns a context holding op for the handler to fill in.
func WithOperation(ctx context.Context, op *Operation) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationFrom returns the Operation of WithOperation, or nil.
func OperationFrom(ctx context.Context) *Operation {
	op, _ := ctx.Value(operationKey{}).(*Operation)
	return op
}

// observer is the extension that tells the middleware what ran (see
// Operation) and, when tracing is on, wraps each operation in a span
// (OpenTelemetry's GraphQL conventions) whose context reports the storage
// queries as child spans with their plan and keys read.
type observer struct {
	tracer trace.Tracer // nil: no spans
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = observer{}

func (observer) ExtensionName() string                   { return "Observer" }
func (observer) Validate(graphql.ExecutableSchema) error { return nil }

func (x observer) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	op := OperationFrom(ctx)
	if x.tracer == nil && (op == nil || op.Answered) {
		return pulled(ctx, next) // no spans, and no middleware asking (or told already)
	}
	var oc *graphql.OperationContext
	if graphql.HasOperationContext(ctx) {
		oc = graphql.GetOperationContext(ctx)
	}
	var opType, opName string
	if oc != nil && oc.Operation != nil {
		opType, opName = string(oc.Operation.Operation), oc.Operation.Name
	}
	var span trace.Span
	if x.tracer != nil && opType != "" {
		name := opType
		if opName != "" {
			name += " " + opName
		}
		attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", opType)}
		if opName != "" {
			attrs = append(attrs, attribute.String("graphql.operation.name", opName))
		}
		if oc.RawQuery != "" {
			attrs = append(attrs, attribute.String("graphql.document", oc.RawQuery))
		}
		ctx, span = x.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
		ctx = storage.WithQueryObserver(ctx, storageSpans(x))
	}
	resp := pulled(ctx, next)
	code := ""
	if resp != nil && len(resp.Errors) > 0 {
		code, _ = resp.Errors[0].Extensions["code"].(string)
	}
	if span != nil {
		if resp != nil && len(resp.Errors) > 0 {
			span.SetStatus(codes.Error, resp.Errors[0].Message)
			span.SetAttributes(attribute.String("graphql.error.code", code))
		}
		span.End()
	}
	if op != nil && !op.Answered {
		name := opName
		if opType == "" && oc != nil {
			name = oc.OperationName // as requested: the document did not validate
		}
		*op = Operation{Answered: true, Type: opType, Name: name, Code: code}
	}
	return resp
}

// storageSpans makes a span of each storage query.
type storageSpans struct{ tracer trace.Tracer }

func (s storageSpans) StartQuery(ctx context.Context, kind string) func(storage.QueryStats, error) {
	_, span := s.tracer.Start(ctx, "storage query "+kind, trace.WithAttributes(
		attribute.String("db.system.name", "bbolt"),
		attribute.String("batchql.storage.kind", kind)))
	return func(st storage.QueryStats, err error) {
		span.SetAttributes(
			attribute.String("batchql.storage.plan", st.Plan),
			attribute.Int("batchql.storage.keys_read", st.KeysRead),
			attribute.Bool("batchql.storage.total_count", st.Counted))
		if err != nil {
			span.SetStatus(codes.Error, fmt.Sprint(err))
		}
		span.End()
	}
}
