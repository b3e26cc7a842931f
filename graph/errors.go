package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/storage"
)

// Error codes (extensions.code) of contract §6.
const (
	CodeBadUserInput            = "BAD_USER_INPUT"
	CodeParseFailed             = errcode.ParseFailed
	CodeValidationFailed        = errcode.ValidationFailed
	CodePersistedQueryNotFound  = "PERSISTED_QUERY_NOT_FOUND"
	CodeComplexityLimitExceeded = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeInternal                = "INTERNAL_SERVER_ERROR"
	// CodeUnauthenticated is contract §11's, for an SSE stream whose
	// token expired (StreamExpiry).
	CodeUnauthenticated = "UNAUTHENTICATED"
)

const internalMessage = "internal server error"

// maxValueInMessage bounds how much of a client's value an error repeats.
const maxValueInMessage = 100

// quote renders a client-supplied string for an error message, shortened.
func quote(s string) string {
	if len(s) > maxValueInMessage {
		cut := maxValueInMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

// badInput is a BAD_USER_INPUT error naming the argument and its value
// (already rendered, e.g. by quote), in the form storage.InputError uses.
func badInput(arg, value, reason string) *gqlerror.Error {
	msg := fmt.Sprintf("argument %q (value %s): %s", arg, value, reason)
	if value == "" {
		msg = fmt.Sprintf("argument %q: %s", arg, reason)
	}
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": CodeBadUserInput}}
}

// storageError maps a storage error to what the client sees: an
// *storage.InputError becomes BAD_USER_INPUT (inputError); anything else
// stays an internal error, which the presenter logs and hides.
func storageError(err error) error {
	if ge := inputError(err); ge != nil {
		return ge
	}
	return err
}

// inputError is the one mapping of an *storage.InputError in err's chain to
// BAD_USER_INPUT with its message (it names the argument and value); nil
// when err holds none. Resolvers reach it through storageError, errors that
// reach the presenter unmapped through errorPresenter.
func inputError(err error) *gqlerror.Error {
	if err == nil {
		return nil // before errors.As: its target escapes, an allocation per call
	}
	var ie *storage.InputError
	if !errors.As(err, &ie) {
		return nil
	}
	return badInput(ie.Arg, shownValue(ie), ie.Reason)
}

// shownValue is the value of an input error as a message shows it: quoted
// and shortened, or as written when it is a number (InputError.Bare).
func shownValue(ie *storage.InputError) string {
	switch {
	case ie.Value == "":
		return ""
	case ie.Bare:
		return ie.Value
	}
	return quote(ie.Value)
}

// errorPresenter keeps every error that carries extensions.code and turns
// everything else into a coded error. Go errors (from storage, bbolt, the
// runtime) are logged and replaced by "internal server error": their text,
// paths and stacks never reach the client.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if !errors.As(err, &gqlErr) {
			return internalError(ctx, log, nil, err)
		}
		if code, _ := gqlErr.Extensions["code"].(string); code != "" {
			return gqlErr
		}
		if inner := gqlErr.Err; inner != nil {
			if out := inputError(inner); out != nil {
				out.Path, out.Locations = gqlErr.Path, gqlErr.Locations
				return out
			}
			if reason, ok := representationError(gqlErr, inner); ok {
				return &gqlerror.Error{Message: fmt.Sprintf("argument %q: %s", "representations", reason),
					Path: gqlErr.Path, Locations: gqlErr.Locations, Extensions: map[string]any{"code": CodeBadUserInput}}
			}
			return internalError(ctx, log, gqlErr, inner)
		}
		if len(gqlErr.Path) > 0 {
			// Produced by the executor while resolving a field, e.g. a
			// null in a non-null field: a server fault.
			return internalError(ctx, log, gqlErr, errors.New(gqlErr.Message))
		}
		return requestError(ctx, log, gqlErr)
	}
}

// representationError recognises the errors gqlgen's generated federation
// code raises for representations it cannot route to a resolver (a gateway
// or client fault, not ours) and says what was wrong in our words.
func representationError(e *gqlerror.Error, err error) (string, bool) {
	if len(e.Path) == 0 || e.Path[0] != ast.PathName("_entities") {
		return "", false
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "finding resolver for Entity"), strings.HasSuffix(msg, "undefined in schema."):
		return "a representation lacks the key fields of its entity", true
	case errors.Is(err, generated.ErrUnknownType), errors.Is(err, generated.ErrTypeNotFound):
		return "a representation names a __typename that is not an entity of this subgraph", true
	case strings.Contains(msg, "__typename must be"):
		return "every representation needs a __typename string", true
	}
	return "", false
}

func internalError(ctx context.Context, log *slog.Logger, orig *gqlerror.Error, err error) *gqlerror.Error {
	if errors.Is(err, context.DeadlineExceeded) {
		if out, ok := timeoutError(ctx, orig); ok {
			log.WarnContext(ctx, "graphql request timed out", "path", out.Path.String(), "operation", operationName(ctx))
			return out
		}
	}
	out := &gqlerror.Error{Message: internalMessage, Extensions: map[string]any{"code": CodeInternal}}
	if orig != nil {
		out.Path, out.Locations = orig.Path, orig.Locations
	}
	level := slog.LevelError
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug // the client went away
	}
	log.Log(ctx, level, "graphql internal error", "err", err, "path", out.Path.String(), "operation", operationName(ctx))
	return out
}

// requestError codes the errors gqlgen's transports and extensions report
// about a request without a code: a body that is not JSON, misused APQ
// extensions. Known messages are kept; others are replaced (they may carry
// Go error text) and logged.
func requestError(ctx context.Context, log *slog.Logger, e *gqlerror.Error) *gqlerror.Error {
	out := &gqlerror.Error{Path: e.Path, Locations: e.Locations, Extensions: map[string]any{"code": CodeBadUserInput}}
	switch {
	case strings.HasPrefix(e.Message, "json request body could not be decoded"):
		out.Message = "the request body is not a GraphQL request: expected a JSON object with query, operationName, variables and extensions"
		out.Extensions["code"] = CodeParseFailed
	case e.Message == "invalid APQ extension data", e.Message == "unsupported APQ version",
		e.Message == "provided APQ hash does not match query":
		out.Message = e.Message
	default:
		log.WarnContext(ctx, "graphql request error", "err", e.Message)
		out.Message = "bad request"
	}
	return out
}

func operationName(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	return graphql.GetOperationContext(ctx).OperationName
}

// recoverFunc turns a panic in a resolver into INTERNAL_SERVER_ERROR for
// that request only; the panic value and stack are logged.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "graphql panic", "panic", fmt.Sprint(v), "path", graphql.GetPath(ctx).String(),
			"operation", operationName(ctx), "stack", string(debug.Stack()))
		return &gqlerror.Error{Message: internalMessage, Extensions: map[string]any{"code": CodeInternal}}
	}
}
