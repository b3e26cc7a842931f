package graph

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"

	"github.com/batchql/batchql/changes"
	"github.com/batchql/batchql/graph/generated"
	"github.com/batchql/batchql/storage"
	"github.com/batchql/batchql/syncer"
)

// Config tunes the GraphQL handler. Zero values mean the defaults.
type Config struct {
	// MaxPageSize is the largest first/last a connection accepts
	// (default 1000).
	MaxPageSize int
	// Introspection enables __schema and __type queries. Off, they are
	// rejected with GRAPHQL_VALIDATION_FAILED (__typename always works).
	Introspection bool
	// QueryCacheSize is how many parsed and validated queries are kept
	// (default 1000).
	QueryCacheSize int
	// PersistedQueryCacheSize is how many automatic persisted queries are
	// kept by hash (default 1000).
	PersistedQueryCacheSize int

	// Limits (limits.go); over one, a request fails with
	// COMPLEXITY_LIMIT_EXCEEDED.

	// MaxComplexity bounds an operation's cost, about the number of
	// records it may return (default 100,000).
	MaxComplexity int
	// MaxDepth bounds the nesting of field selections (default 15).
	MaxDepth int
	// MaxAliases bounds the aliased fields of an operation (default 500).
	MaxAliases int
	// MaxRootFields bounds the root fields of an operation (default 50).
	MaxRootFields int
	// MaxBodyBytes bounds a request body; a longer one is answered 413
	// with BAD_USER_INPUT (default 1 MiB).
	MaxBodyBytes int64
	// RequestTimeout bounds the time a request may read the database
	// (default 30s; negative: no limit).
	RequestTimeout time.Duration
	// MaxConcurrent bounds the requests executed at once; others wait for
	// a slot within their deadline (default 4 × GOMAXPROCS).
	MaxConcurrent int

	// SyncStatus reports the live sync's sources (Query.syncStatus and
	// /healthz); nil when the server syncs from no engine.
	SyncStatus func() []syncer.Status

	// Tracer, when set, wraps each operation and storage query in a span
	// (observe.go); nil: no spans.
	Tracer trace.Tracer

	// Subscriptions (stream.go, subscription.go).

	// Subscriptions is the hub of the store's change feed; nil: subscription
	// operations fail with an error. Closing it closes every stream.
	Subscriptions *changes.Hub
	// WebSocketInit checks a WebSocket's connection_init payload (the
	// authentication seam: auth.Verifier.AuthenticateInit); nil accepts
	// every connection.
	WebSocketInit transport.WebsocketInitFunc
	// WebSocketOrigin decides cross-origin WebSocket upgrades (auth.CORS's
	// CheckWebSocketOrigin); nil allows the same origin and clients that
	// send none.
	WebSocketOrigin func(*http.Request) bool
	// StreamExpiry, when set, tells when the credentials of an SSE
	// stream's request end (zero: never): the stream is ended then with
	// an UNAUTHENTICATED error event, as a new request with them would be
	// refused. (A WebSocket's credentials come with connection_init: its
	// WebSocketInit ends the connection's context at their end.)
	StreamExpiry func(context.Context) time.Time
	// KeepAlive is the interval of keep-alive messages on idle streams
	// (graphql-ws "ka", graphql-transport-ws ping, SSE comment; default 15s).
	KeepAlive time.Duration
	// StreamWriteTimeout bounds every write to a stream; a client that
	// reads nothing for that long is disconnected (default 30s).
	StreamWriteTimeout time.Duration
	// Streams, when set, counts the WebSocket and SSE requests being
	// served (hijacked connections, which http.Server.Shutdown does not
	// wait for): a server waits for it after Shutdown, so that streams end
	// with their close message rather than with the process.
	Streams *sync.WaitGroup

	// gqlgenLists turns fastLists off (tests compare both outputs).
	gqlgenLists bool
}

// Defaults of Config.
const (
	DefaultMaxPageSize             = 1000
	DefaultQueryCacheSize          = 1000
	DefaultPersistedQueryCacheSize = 1000
)

func (c Config) withDefaults() Config {
	if c.MaxPageSize <= 0 {
		c.MaxPageSize = DefaultMaxPageSize
	}
	if c.QueryCacheSize <= 0 {
		c.QueryCacheSize = DefaultQueryCacheSize
	}
	if c.PersistedQueryCacheSize <= 0 {
		c.PersistedQueryCacheSize = DefaultPersistedQueryCacheSize
	}
	c.MaxComplexity = orDefault(c.MaxComplexity, DefaultMaxComplexity)
	c.MaxDepth = orDefault(c.MaxDepth, DefaultMaxDepth)
	c.MaxAliases = orDefault(c.MaxAliases, DefaultMaxAliases)
	c.MaxRootFields = orDefault(c.MaxRootFields, DefaultMaxRootFields)
	c.MaxBodyBytes = orDefault(c.MaxBodyBytes, DefaultMaxBodyBytes)
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	c.MaxConcurrent = orDefault(c.MaxConcurrent, 4*runtime.GOMAXPROCS(0))
	if c.KeepAlive <= 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.StreamWriteTimeout <= 0 {
		c.StreamWriteTimeout = DefaultStreamWriteTimeout
	}
	return c
}

func orDefault[N int | int64](v, def N) N {
	if v <= 0 {
		return def
	}
	return v
}

// NewHandler returns the /query handler: POST and GET (queries only) with
// OPTIONS, subscriptions over WebSocket and SSE (stream.go), a query cache, automatic persisted queries, introspection when
// cfg.Introspection, and errors that always carry extensions.code; internal
// errors and resolver panics are logged to log and reported as
// INTERNAL_SERVER_ERROR without details.
func NewHandler(store *storage.Store, cfg Config, log *slog.Logger) http.Handler {
	cfg = cfg.withDefaults()
	srv := newServer(&Resolver{store: store, cfg: cfg, log: orDiscard(log)}, cfg, log)
	slots := make(chan struct{}, cfg.MaxConcurrent)
	srv.Use(streamAdmission{slots: slots, timeout: cfg.RequestTimeout})
	return withStreams(srv, withHTTPLimits(admit(srv, slots), cfg.MaxBodyBytes, cfg.RequestTimeout), cfg)
}

// newServer builds the handler around a resolver root (tests substitute one).
func newServer(root generated.ResolverRoot, cfg Config, log *slog.Logger) *handler.Server {
	cfg = cfg.withDefaults()
	log = orDiscard(log)
	es := generated.NewExecutableSchema(generated.Config{Resolvers: root, Complexity: complexityRoot(cfg.MaxPageSize)})
	srv := handler.New(es)
	srv.AddTransport(transport.Options{AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions}})
	srv.AddTransport(transport.Websocket{
		Implementation:        wsImplementation{checkOrigin: cfg.WebSocketOrigin},
		InitFunc:              cfg.WebSocketInit,
		KeepAlivePingInterval: cfg.KeepAlive, // graphql-ws
		PingPongInterval:      cfg.KeepAlive, // graphql-transport-ws: no pong in 2 intervals closes
	})
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: cfg.KeepAlive}) // ahead of POST
	srv.AddTransport(getTransport{})
	srv.AddTransport(postTransport{})
	srv.AddTransport(fallbackTransport{}) // last: takes what the others do not
	srv.Use(observer{tracer: cfg.Tracer}) // first: its response interceptor is the outermost
	queryCache := lru.New[*ast.QueryDocument](cfg.QueryCacheSize)
	srv.SetQueryCache(queryCache)
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(introspectionGuard{})
		srv.Use(serviceSDL{}) // federation's _service { sdl } stays available
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](cfg.PersistedQueryCacheSize)})
	// After APQ, which fills in the query of a persisted-query request.
	srv.Use(queryLimits{maxDepth: cfg.MaxDepth, maxAliases: cfg.MaxAliases, maxRootFields: cfg.MaxRootFields, cache: queryCache})
	srv.Use(&costLimit{limit: cfg.MaxComplexity})
	srv.Use(newExactEnums(es.Schema()))
	if !cfg.gqlgenLists {
		r, _ := root.(*Resolver) // tests substitute roots; they get no items shortcut
		srv.Use(fastLists{r: r})
	}
	srv.Use(subscriptionPull{}) // its responses come through the observer (pulled)
	srv.SetErrorPresenter(errorPresenter(log))
	srv.SetRecoverFunc(recoverFunc(log))
	return srv
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// introspectionGuard rejects operations that select __schema or __type when
// introspection is off, before anything is executed.
type introspectionGuard struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = introspectionGuard{}

func (introspectionGuard) ExtensionName() string                   { return "IntrospectionGuard" }
func (introspectionGuard) Validate(graphql.ExecutableSchema) error { return nil }
func (introspectionGuard) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if f := findIntrospection(oc.Doc, oc.Operation.SelectionSet, map[string]bool{}); f != nil {
		err := gqlerror.ErrorPosf(f.Position, "introspection is disabled on this server: field %q is not allowed", f.Name)
		err.Extensions = map[string]any{"code": CodeValidationFailed}
		return err
	}
	return nil
}

// findIntrospection finds a __schema or __type field among the root
// selections, through fragments (meta-fields exist only on the root type).
func findIntrospection(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) *ast.Field {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return s
			}
		case *ast.InlineFragment:
			if f := findIntrospection(doc, s.SelectionSet, seen); f != nil {
				return f
			}
		case *ast.FragmentSpread:
			if seen[s.Name] || doc == nil {
				continue
			}
			seen[s.Name] = true
			if def := doc.Fragments.ForName(s.Name); def != nil {
				if f := findIntrospection(doc, def.SelectionSet, seen); f != nil {
					return f
				}
			}
		}
	}
	return nil
}
