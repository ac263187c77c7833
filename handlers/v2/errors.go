package v2

import (
	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
)

// badRequest is a request the protocol cannot take. Triton answers every
// one with 400, also those that do not fit the model: the protocol has no 422.
func badRequest(format string, args ...any) *inference.Error {
	return inference.Errorf(inference.InvalidArgument, format, args...)
}

// fail writes err as the protocol's error body, {"error": "..."} and
// nothing else, with the status rest.Status gives its kind.
func (a *API) fail(c *gin.Context, err error) {
	e := inference.From(err)
	a.env.Fail(c, rest.Status(e.Kind), e, Error{Error: e.Message})
}

// Fail writes err as the protocol's error body, for the router's
// middleware that refuses a /v2 request before its handler runs.
func Fail(env *rest.Env, c *gin.Context, err error) {
	e := inference.From(err)
	env.Fail(c, rest.Status(e.Kind), e, Error{Error: e.Message})
}
