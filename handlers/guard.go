package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
	v2 "github.com/onnxserve/onnxserve/handlers/v2"
)

// guard is the middleware that checks a request's API key against what
// its route needs (auth's table). It is installed only when keys are
// configured: an open server pays nothing for it. A /v2 route is refused
// in the Open Inference Protocol's error form, any other in /v1's.
func guard(env *rest.Env, keys *auth.Keys) gin.HandlerFunc {
	policy := auth.NewPolicy()
	return func(c *gin.Context) {
		pattern := c.FullPath()
		if pattern == "" {
			// No route: the 404 or 405 that follows says nothing a key
			// would guard.
			return
		}
		need, _ := policy.HTTP(c.Request.Method, pattern)
		key, err := keys.Check(need, credentials(c.Request.Header))
		if err != nil {
			if strings.HasPrefix(pattern, "/v2") {
				v2.Fail(env, c, err)
			} else {
				v1.Fail(env, c, err)
			}
			return
		}
		if key.ID != "" {
			if rec := inference.RecordOf(c.Request.Context()); rec != nil {
				rec.Caller = key.ID
			}
		}
	}
}

// credentials is the key a request presents: Authorization: Bearer KEY,
// or X-API-Key: KEY.
func credentials(h http.Header) string {
	if k := auth.Bearer(h.Get("Authorization")); k != "" {
		return k
	}
	return strings.TrimSpace(h.Get("X-API-Key"))
}
