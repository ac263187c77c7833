// Package rest is what the REST front ends (/v1, /v2) share: the body
// reader, the one buffer pool for bodies and responses, the Open Inference
// Protocol's mapping of error kinds to HTTP statuses, and the error writer.
package rest

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
)

// Env is what the router hands every REST front end.
type Env struct {
	Core *inference.Core
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	MaxBodyBytes int64
	// Buffers recycles request bodies and response buffers.
	Buffers *Buffers
	Logger  *slog.Logger
}

// StatusClientClosedRequest is nginx's 499 "client closed request": the
// status of a request whose client went away before its answer. The
// client never sees it; logs and metrics do, apart from the server's own
// failures.
const StatusClientClosedRequest = 499

// Status maps an error kind to its HTTP status as Triton's HTTP server
// does for the Open Inference Protocol, which has no 422: a request that
// does not fit the model is a 400. /v1 differs in that one kind only.
func Status(k inference.Kind) int {
	switch k {
	case inference.InvalidArgument, inference.Malformed, inference.FailedPrecondition:
		return http.StatusBadRequest
	case inference.NotFound:
		return http.StatusNotFound
	case inference.ResourceExhausted:
		return http.StatusRequestEntityTooLarge
	case inference.Unavailable, inference.Overloaded, inference.NotAllowed:
		return http.StatusServiceUnavailable
	case inference.Cancelled:
		return StatusClientClosedRequest
	case inference.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case inference.Unimplemented:
		return http.StatusMethodNotAllowed
	case inference.RequestTimeout:
		return http.StatusRequestTimeout
	case inference.Unauthenticated:
		return http.StatusUnauthorized
	case inference.PermissionDenied:
		return http.StatusForbidden
	case inference.UnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// Fail writes body with status for the failed request e, with the headers
// e needs (Retry-After, WWW-Authenticate), and logs the server's own failures (Internal). Client mistakes
// are not logged, and neither are the other 5xx kinds: shedding load,
// refusing what the configuration does not allow, a model that failed to
// load (logged when it did) and a client that gave up are the server
// working as designed, and logging every refusal would cost more than
// refusing.
func (env *Env) Fail(c *gin.Context, status int, e *inference.Error, body any) {
	if e.RetryAfter > 0 {
		// Retry-After counts whole seconds.
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds())))))
	}
	if e.Kind == inference.Unauthenticated {
		// RFC 6750: a 401 names the scheme the client is to use.
		c.Header("WWW-Authenticate", `Bearer realm="onnxserve"`)
	}
	if e.Kind == inference.Internal {
		cause := error(e)
		if e.Err != nil {
			cause = e.Err
		}
		env.Logger.ErrorContext(c, "request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "status", status, "err", cause)
	}
	c.AbortWithStatusJSON(status, body)
}

// CodecError is an error of the JSON codec as a REST front end reports it:
// malformed JSON, or JSON that does not fit what was asked for; its
// message as the codec words it.
func CodecError(e *jsontensor.Error) *inference.Error {
	if e == nil {
		return nil
	}
	k := inference.InvalidArgument
	if e.Syntax {
		k = inference.Malformed
	}
	return &inference.Error{Kind: k, Message: e.Error(), Err: e}
}
