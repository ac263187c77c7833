package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/runtime"
)

// Kind says what went wrong, in terms a client can act on. It is mapped to
// an HTTP status in exactly one place: Kind.Status.
type Kind int

const (
	KindInternal         Kind = iota // the server or ONNX Runtime failed: 500
	KindBadRequest                   // malformed JSON, empty body: 400
	KindValidation                   // well-formed JSON that does not fit the model: 422
	KindNotFound                     // unknown model or version: 404
	KindTooLarge                     // body over the limit: 413
	KindUnavailable                  // not ready, or overloaded: 503
	KindMethodNotAllowed             // 405
)

// Status maps a Kind to its HTTP status.
func (k Kind) Status() int {
	switch k {
	case KindBadRequest:
		return http.StatusBadRequest
	case KindValidation:
		return http.StatusUnprocessableEntity
	case KindNotFound:
		return http.StatusNotFound
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	}
	return http.StatusInternalServerError
}

// Detail names one problem with one field, as FastAPI's 422 does.
type Detail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an API error; marshalled, it is the JSON error body every
// endpoint returns: {"error": "...", "details": [{"field": ..., "message": ...}]}.
type Error struct {
	Kind    Kind     `json:"-"`
	Message string   `json:"error"`
	Details []Detail `json:"details,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s: %s: %s", e.Message, e.Details[0].Field, e.Details[0].Message)
}

// Invalid returns a 422 error naming one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{
		Kind:    KindValidation,
		Message: "validation failed",
		Details: []Detail{{Field: field, Message: fmt.Sprintf(format, args...)}},
	}
}

// BadRequest returns a 400 error, for bodies that are not JSON at all.
func BadRequest(format string, args ...any) *Error {
	return &Error{Kind: KindBadRequest, Message: fmt.Sprintf(format, args...)}
}

// asError turns any error into an *Error: the one place where the errors of
// package runtime and of net/http get their kind.
func asError(err error) *Error {
	var (
		e   *Error
		mb  *http.MaxBytesError
		nf  *runtime.NotFoundError
		un  *runtime.UnavailableError
		run *runtime.RunError
	)
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &mb):
		return &Error{Kind: KindTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", mb.Limit)}
	case errors.As(err, &nf):
		return &Error{Kind: KindNotFound, Message: nf.Error()}
	case errors.As(err, &un):
		return &Error{Kind: KindUnavailable, Message: un.Error()}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Error{Kind: KindUnavailable, Message: "request cancelled before the model ran: " + err.Error()}
	case errors.As(err, &run):
		return &Error{Kind: KindInternal, Message: run.Error()}
	}
	return &Error{Kind: KindInternal, Message: err.Error()}
}

// fail writes err as the JSON error body with its status; server-side
// failures are logged, client mistakes are not.
func (s *Server) fail(c *gin.Context, err error) {
	e := asError(err)
	status := e.Kind.Status()
	if status >= 500 {
		s.log.ErrorContext(c, "request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "status", status, "err", err)
	}
	c.AbortWithStatusJSON(status, e)
}
