package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/batchql/batchql/auth"
	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
)

// Security is what guards the GraphQL endpoint (contract §11): CORS for web
// apps on other origins, OIDC bearer authentication with the read scope, a
// per-caller rate limit, and the caller's tenant scope handed to storage.
// The zero value guards nothing: no CORS headers, no authentication, no
// limit, every batch visible.
type Security struct {
	Verifier  *auth.Verifier    // --oidc-issuer; nil: authentication off
	ReadScope string            // --read-scope; "": any valid token reads
	CORS      *auth.CORS        // --cors-origins; nil: no cross-origin requests
	Limiter   *auth.RateLimiter // --rate-limit; nil: no limit
}

// Wrap puts next behind the guards, outermost first: CORS (so that 401 and
// 429 answers reach browser code and preflights need no token), the bearer
// guard, the rate limiter (keyed by the token's subject, which the guard put
// into the context, else the client address), then the tenant scope.
func (s Security) Wrap(next http.Handler) http.Handler {
	h := s.Limiter.Wrap(scopeTenants(next))
	if s.Verifier != nil {
		h = (&auth.Guard{Verifier: s.Verifier, Scope: s.ReadScope}).Wrap(h)
	}
	if s.CORS != nil {
		h = s.CORS.Wrap(h)
	}
	return h
}

// scopeTenants turns the caller's tenant scope into storage's: every read
// of the request (lists, totalCount, node, nodes, _entities) then sees only
// the caller's batches, inside the storage query.
func scopeTenants(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithCallerTenants(r.Context())))
	})
}

// WithCallerTenants returns ctx with the storage tenant scope of its caller
// (auth.FromContext); ctx unchanged when there is no caller (authentication
// off) or the caller sees every tenant (no --tenant-claim).
func WithCallerTenants(ctx context.Context) context.Context {
	if sc := auth.ScopeOf(ctx); !sc.All {
		return storage.WithTenants(ctx, sc.IDs)
	}
	return ctx
}

// WebSocketInit authenticates a subscription's connection_init payload
// ({"Authorization": "Bearer …"}) when authentication is on, and returns the
// context the subscription's reads run in (with the caller and its tenant
// scope). For gqlgen's transport.Websocket InitFunc; with authentication
// off it returns ctx unchanged.
func (s Security) WebSocketInit(ctx context.Context, payload map[string]any) (context.Context, error) {
	if s.Verifier == nil {
		return ctx, nil
	}
	c, err := s.Verifier.AuthenticateInit(ctx, payload)
	if err != nil {
		return ctx, err
	}
	return WithCallerTenants(auth.NewContext(ctx, c)), nil
}

// graphQLWebSocketInit is WebSocketInit as gqlgen's WebSocket transport
// takes it (graph.Config.WebSocketInit, which NewRouter sets); nil when
// authentication is off. A refused connection is closed with
// refusedWebSocket's code; an accepted one gets a connection_ack without
// payload (not an echo of the init payload, which holds the token).
func (s Security) graphQLWebSocketInit() transport.WebsocketInitFunc {
	if s.Verifier == nil {
		return nil
	}
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		sctx, err := s.WebSocketInit(ctx, p)
		if err != nil {
			return refusedWebSocket(ctx, err), nil, err
		}
		return closeAtExpiry(ctx, sctx), nil, nil
	}
}

// callerExpiry is when the credentials of ctx's caller end (exp plus
// the verifier's leeway); zero without a caller or exp.
func callerExpiry(ctx context.Context) time.Time {
	c, ok := auth.FromContext(ctx)
	if !ok || c.Expiry.IsZero() {
		return time.Time{}
	}
	return c.Expiry.Add(auth.Leeway)
}

// closeAtExpiry ends an accepted connection when its caller's token
// expires (with the leeway the verifier allows): gqlgen closes a
// connection whose context ends (code 1000, reason "token expired" in a
// connection_error), and a client that reconnects with the same token is
// refused with CloseForbidden. Without it a subscription outlived its
// token for good. The token is the connection_init's or the upgrade
// request's.
func closeAtExpiry(conn, ctx context.Context) context.Context {
	at := callerExpiry(ctx)
	if at.IsZero() {
		return ctx
	}
	ctx, cancel := context.WithDeadline(transport.AppendCloseReason(ctx, "token expired"), at)
	context.AfterFunc(conn, cancel) // the connection's end releases the timer
	return ctx
}

// CloseForbidden is the WebSocket close code of a connection whose
// connection_init carried no valid token (or one without the read scope):
// graphql-ws's PROTOCOL.md recommends 4403 for a rejected connection_init,
// and its client reports it to the subscriptions instead of reconnecting.
// gqlgen's default, 1000, means "done" to graphql-ws, which reconnects at
// once while a subscription is open: one client holding a refused token
// opened 5514 connections in 8 s (e2e/security-subscriptions.test.mjs).
const CloseForbidden = 4403

// CloseInternalError is RFC 6455's close code for an unexpected condition.
const CloseInternalError = 1011

// maxCloseReason is the most bytes a close frame's reason holds (RFC 6455
// §5.5: 125 bytes of payload, 2 of them the code).
const maxCloseReason = 123

// refusedWebSocket returns ctx with the close code and reason gqlgen closes
// a refused connection with: CloseForbidden for a missing, bad or
// under-scoped token; graph.CloseTryAgainLater when the issuer cannot be
// reached (the client may retry); CloseInternalError otherwise. The reason
// is the error's message, as the HTTP answer's, cut to fit the frame.
func refusedWebSocket(ctx context.Context, err error) context.Context {
	code := CloseInternalError
	var e *auth.Error
	if errors.As(err, &e) {
		switch {
		case e.Status == http.StatusServiceUnavailable:
			code = graph.CloseTryAgainLater
		case e.Status < http.StatusInternalServerError:
			code = CloseForbidden
		}
	}
	reason := err.Error()
	if len(reason) > maxCloseReason {
		reason = strings.ToValidUTF8(reason[:maxCloseReason], "")
	}
	return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, code), reason)
}

// CheckOrigin is the WebSocket upgrade's origin check: no Origin, the
// server's own origin, or one of --cors-origins.
func (s Security) CheckOrigin(r *http.Request) bool { return s.CORS.CheckWebSocketOrigin(r) }

// ImportGuard is the guard of POST /import with OIDC (contract §9, §11): a
// token of the issuer with scope (--import-scope), or the static token
// (--import-token) when set, is let through; anything else gets 401, a
// valid token without the scope 403. nil when authentication is off (then
// the import handler's own --import-token check applies). For the import
// handler's ImportOptions.Guard.
func (s Security) ImportGuard(scope, token string) func(http.Handler) http.Handler {
	if s.Verifier == nil {
		return nil
	}
	if scope == "" {
		scope = auth.DefaultImportScope
	}
	return (&auth.Guard{Verifier: s.Verifier, Scope: scope, Token: token}).Wrap
}
