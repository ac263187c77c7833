// Package cors lets browser pages of the origins --cors-origins names call
// the API: it answers their preflight requests and marks the answers they
// may read. Pages of any other origin get no CORS header at all, so the
// browser keeps their calls' answers from them (and refuses to send a call
// that needs a preflight).
package cors

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

const (
	// allowMethods are the API's methods.
	allowMethods = "GET, POST"
	// allowHeaders are the request headers a page may send: the body's
	// type, a key either way, the binary tensor extension's header length
	// and a request id.
	allowHeaders = "Content-Type, Authorization, X-API-Key, Inference-Header-Content-Length, X-Request-ID"
	// exposeHeaders are the response headers a page may read besides the
	// CORS-safelisted ones: where the binary tensor data starts, when to
	// retry a full queue, the request id.
	exposeHeaders = "Inference-Header-Content-Length, Retry-After, X-Request-ID"
	// maxAge is how long, in seconds, a browser may reuse a preflight's
	// answer: 10 minutes, Chromium's own upper bound being 2 hours.
	maxAge = "600"
)

// Policy is which origins may call.
type Policy struct {
	any     bool
	origins map[string]bool
}

// New reads --cors-origins: "*", or origins as a browser sends them in its
// Origin header (scheme://host[:port], no path).
func New(origins []string) (*Policy, error) {
	p := &Policy{origins: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			p.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("--cors-origins %q: want an origin as scheme://host[:port], e.g. https://app.example.com, or *", o)
		}
		p.origins[strings.ToLower(o)] = true
	}
	return p, nil
}

// Allowed says whether a page of origin may call.
func (p *Policy) Allowed(origin string) bool {
	return p.any || p.origins[strings.ToLower(origin)]
}

// Middleware answers a listed origin's preflight with 204 and marks every
// other answer to it readable. It runs before routing's answer and before
// the API keys are checked: a preflight carries no key.
func (p *Policy) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		// The answer depends on the origin, its absence included: a cache
		// must not hand an answer made without CORS headers (or for
		// another origin) to a listed origin.
		h.Add("Vary", "Origin")
		origin := c.Request.Header.Get("Origin")
		if origin == "" || !p.Allowed(origin) {
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if c.Request.Method == http.MethodOptions && c.Request.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", allowMethods)
			h.Set("Access-Control-Allow-Headers", allowHeaders)
			h.Set("Access-Control-Max-Age", maxAge)
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", exposeHeaders)
	}
}
