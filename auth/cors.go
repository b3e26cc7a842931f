package auth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CORS answers preflights and marks responses for the origins of
// --cors-origins. The zero value allows no cross-origin request.
type CORS struct {
	any     bool
	origins map[string]bool
}

// CORS response header values (contract §11).
const (
	corsMethods = "GET, POST, OPTIONS"
	corsHeaders = "Authorization, Content-Type"
	corsExpose  = "Retry-After, WWW-Authenticate"
	corsMaxAge  = "600" // seconds a browser may cache a preflight
)

// ParseCORS reads --cors-origins: "" (none), "*" (any), or comma-separated
// exact origins such as "https://app.example.com,http://localhost:5173".
func ParseCORS(flag string) (*CORS, error) {
	c := &CORS{origins: map[string]bool{}}
	for _, o := range strings.Split(flag, ",") {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
		case o == "*":
			c.any = true
		default:
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
				(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return nil, fmt.Errorf("--cors-origins: %q is not an origin (want scheme://host[:port], e.g. https://app.example.com)", o)
			}
			c.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
		}
	}
	return c, nil
}

// Allowed reports whether a cross-origin request from origin may be served.
func (c *CORS) Allowed(origin string) bool {
	if c == nil || origin == "" {
		return false
	}
	return c.any || c.origins[strings.ToLower(origin)]
}

// Wrap returns next behind CORS handling. A preflight (OPTIONS with
// Origin and Access-Control-Request-Method) is answered here with 204 and
// never reaches next or any guard; an allowed origin gets the CORS headers,
// another origin none. Other requests go to next, with Access-Control-Allow-
// Origin, -Methods, -Headers and -Expose-Headers set for an allowed origin
// (contract §11 lists the same headers for preflight and actual requests).
// Vary: Origin is set on every response when CORS is configured.
func (c *CORS) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if c != nil && (c.any || len(c.origins) > 0) {
			// Always, so a cache never serves a response made for no or
			// another origin.
			h.Add("Vary", "Origin")
		}
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if c.Allowed(origin) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", corsMethods)
				h.Set("Access-Control-Allow-Headers", corsHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if c.Allowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Expose-Headers", corsExpose)
		}
		next.ServeHTTP(w, r)
	})
}

// CheckWebSocketOrigin reports whether a WebSocket upgrade may proceed: no
// Origin (not a browser), the same origin as the request's host, or an origin
// CORS allows. Browsers do not apply CORS to WebSockets, so without this check
// any web page could open a subscription with a user's cookies or network
// position. With coder/websocket (gqlgen's transport), set
// AcceptOptions.InsecureSkipVerify and refuse with 403 when this is false.
func (c *CORS) CheckWebSocketOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return c.Allowed(origin)
}
