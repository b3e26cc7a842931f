package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Guard authenticates the requests of one endpoint and checks one scope:
//
//	query := auth.Guard{Verifier: v, Scope: cfg.ReadScope}
//	imp := auth.Guard{Verifier: v, Scope: cfg.ImportScope /* or DefaultImportScope */, Token: importToken}
//	mux.Handle("/query", cors.Wrap(query.Wrap(limiter.Wrap(gql))))
//
// With neither Verifier nor Token set, Guard lets every request through
// without a Caller (authentication off).
type Guard struct {
	Verifier *Verifier // OIDC; nil when --oidc-issuer is not set
	Scope    string    // needed in the token; "" means any valid token
	// Token is a static bearer token accepted as well (--import-token); the
	// caller it yields has Subject "import-token" and every scope.
	Token string
}

// StaticTokenSubject is the Subject of a caller that sent Guard.Token.
const StaticTokenSubject = "import-token"

// Wrap returns next behind the guard. A WebSocket upgrade without an
// Authorization header is let through without a Caller: browsers cannot set
// headers on WebSockets, so the connection_init payload is checked instead
// (Verifier.AuthenticateInit).
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.Verifier == nil && g.Token == "" {
			next.ServeHTTP(w, r)
			return
		}
		if g.Verifier != nil && r.Header.Get("Authorization") == "" && isWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		c, err := g.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
	})
}

// Authenticate checks an Authorization header value. The error is an *Error.
func (g *Guard) Authenticate(ctx context.Context, header string) (*Caller, error) {
	tok, ok := bearer(header)
	if !ok {
		return nil, ErrNoToken
	}
	if g.Token != "" && equalSecret(tok, g.Token) {
		return &Caller{Subject: StaticTokenSubject, Scopes: []string{g.Scope}}, nil
	}
	if g.Verifier == nil {
		return nil, invalid("wrong token")
	}
	c, err := g.Verifier.Verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	if !c.HasScope(g.Scope) {
		return nil, forbidden(g.Scope)
	}
	return c, nil
}

// AuthenticateInit checks the payload of a WebSocket connection_init message,
// {"Authorization": "Bearer …"} (or "authorization"), against the read scope.
// When the payload has no credentials but the upgrade request had an
// Authorization header (so ctx already carries a Caller), that caller is
// used. For gqlgen's transport.Websocket:
//
//	InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
//		c, err := v.AuthenticateInit(ctx, p)
//		if err != nil {
//			return ctx, nil, err
//		}
//		return auth.NewContext(ctx, c), nil, nil
//	},
func (v *Verifier) AuthenticateInit(ctx context.Context, payload map[string]any) (*Caller, error) {
	h, _ := payload["Authorization"].(string)
	if h == "" {
		h, _ = payload["authorization"].(string)
	}
	if h == "" {
		if c, ok := FromContext(ctx); ok {
			return c, nil
		}
	}
	g := Guard{Verifier: v, Scope: v.cfg.ReadScope}
	return g.Authenticate(ctx, h)
}

// bearer extracts the token of an RFC 6750 "Bearer" Authorization header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// WriteError writes err as a GraphQL-shaped JSON error response:
// an *Error with its status, WWW-Authenticate (RFC 6750 §3) and, for 503,
// Retry-After; any other error as 500 without its text.
func WriteError(w http.ResponseWriter, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Msg: "internal server error"}
	}
	h := w.Header()
	switch {
	case e.Status == http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(int(defaultRetry.Seconds())))
	case e.bearer == "":
	case e.bearer == "insufficient_scope":
		h.Set("WWW-Authenticate", `Bearer error="insufficient_scope", error_description="`+quotable(e.Msg)+`", scope="`+quotable(e.scope)+`"`)
	default:
		h.Set("WWW-Authenticate", `Bearer error="`+e.bearer+`", error_description="`+quotable(e.Msg)+`"`)
	}
	h.Set("Cache-Control", "no-store")
	writeGraphQLError(w, e.Status, e.Code, e.Msg)
}

// quotable keeps the characters RFC 6750 allows in a quoted attribute
// (%x20-21 / %x23-5B / %x5D-7E) and replaces the others by '?'.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// writeGraphQLError writes {"errors":[{"message":…,"extensions":{"code":…}}]}.
func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Errors []gqlError `json:"errors"`
	}{[]gqlError{{Message: msg, Extensions: map[string]any{"code": code}}}})
}
