package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/jsontensor"
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
	KindOverloaded                   // the model's queue is full: 503 with Retry-After
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
	case KindUnavailable, KindOverloaded:
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
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter time.Duration `json:"-"`
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

// codecError is the one place where an error of the JSON codec becomes an
// *Error: malformed JSON is a 400 in every protocol, JSON that does not fit
// the model a 422 (which failV2 answers as a 400).
func codecError(e *jsontensor.Error) *Error {
	if e == nil {
		return nil
	}
	out := &Error{Kind: KindValidation, Message: e.Message}
	if e.Syntax {
		out.Kind = KindBadRequest
	}
	if e.Details != nil {
		out.Details = make([]Detail, len(e.Details))
		for i, d := range e.Details {
			out.Details[i] = Detail(d)
		}
	}
	return out
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
		ol  *runtime.OverloadedError
		le  *runtime.LoadError
	)
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &mb):
		return &Error{Kind: KindTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", mb.Limit)}
	case errors.As(err, &nf):
		return &Error{Kind: KindNotFound, Message: nf.Error()}
	case errors.As(err, &le):
		return &Error{Kind: KindBadRequest, Message: le.Error()}
	case errors.As(err, &ol):
		return &Error{Kind: KindOverloaded, Message: ol.Error(), RetryAfter: ol.RetryAfter}
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
	c.AbortWithStatusJSON(s.report(c, err, e, e.Kind.Status()), e)
}

// failV2 writes err as the Open Inference Protocol's error body, which is
// {"error": "..."} and nothing else. The protocol has no 422: a body that
// does not fit the model is a 400, as Triton answers it.
func (s *Server) failV2(c *gin.Context, err error) {
	e := asError(err)
	status := e.Kind.Status()
	if e.Kind == KindValidation {
		status = http.StatusBadRequest
	}
	c.AbortWithStatusJSON(s.report(c, err, e, status), V2Error{Error: e.Error()})
}

// report sets the headers an error response needs and logs server-side
// failures; it returns status.
func (s *Server) report(c *gin.Context, err error, e *Error, status int) int {
	if e.RetryAfter > 0 {
		// Retry-After counts whole seconds.
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds())))))
	}
	// Shedding load is the server working as designed; logging every
	// refusal would cost more than refusing.
	if status >= 500 && e.Kind != KindOverloaded {
		s.log.ErrorContext(c, "request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "status", status, "err", err)
	}
	return status
}
