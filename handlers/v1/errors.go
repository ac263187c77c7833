package v1

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/handlers/rest"
)

// Detail names one problem with one field, as FastAPI's 422 does.
type Detail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
} //@name handlers.Detail

// Error is every /v1 error body, and that of the unversioned endpoints:
// {"error": "...", "details": [{"field": ..., "message": ...}]}.
type Error struct {
	Message string   `json:"error"`
	Details []Detail `json:"details,omitempty"`
} //@name handlers.Error

// status maps an error kind to its /v1 status: the Open Inference
// Protocol's, but for a request that does not fit the model, which gets
// FastAPI's 422.
func status(k inference.Kind) int {
	if k == inference.InvalidArgument {
		return http.StatusUnprocessableEntity
	}
	return rest.Status(k)
}

// problem is err as /v1 answers it. The body grammar's own errors name
// /v1 fields already; the core's name inputs, which f (the body form the
// request used) turns into fields.
func problem(err error, f form) (*inference.Error, Error) {
	var je *jsontensor.Error
	if errors.As(err, &je) {
		body := Error{Message: je.Message}
		for _, d := range je.Details {
			body.Details = append(body.Details, Detail(d))
		}
		return rest.CodecError(je), body
	}
	e := inference.From(err)
	if e.Kind != inference.InvalidArgument || len(e.Details) == 0 {
		return e, Error{Message: e.Message}
	}
	body := Error{Message: "validation failed"}
	for _, d := range e.Details {
		body.Details = append(body.Details, Detail{Field: f.field(d.Input), Message: d.Message})
	}
	return e, body
}

// fail writes err as the /v1 error body with its status.
func (a *API) fail(c *gin.Context, err error, f form) {
	e, body := problem(err, f)
	a.env.Fail(c, status(e.Kind), e, body)
}

// Fail writes err as the /v1 error body, for the routes outside /v1 that
// answer in its form (probes, unknown routes).
func Fail(env *rest.Env, c *gin.Context, err error) {
	e, body := problem(err, formInputs)
	env.Fail(c, status(e.Kind), e, body)
}
