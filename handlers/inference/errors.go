package inference

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onnxserve/onnxserve/runtime"
)

// Kind says what went wrong in protocol-neutral terms, in the spirit of
// gRPC's status codes. Each front end maps a Kind to its own statuses in
// exactly one function.
type Kind int

const (
	Internal             Kind = iota // the server or ONNX Runtime failed
	InvalidArgument                  // a well-formed request that does not fit the model
	Malformed                        // a body that is not the protocol's syntax at all
	NotFound                         // unknown model, version or route
	Unavailable                      // not loaded, or shutting down
	Overloaded                       // the model's queue is full (RetryAfter set)
	ResourceExhausted                // a request larger than the server accepts
	DeadlineExceeded                 // the request's deadline passed
	Cancelled                        // the client went away
	FailedPrecondition               // the server is not in a state to do it: not ready, a load that failed
	Unimplemented                    // an operation the server does not offer, or not by this method
	NotAllowed                       // an operation the server's configuration turns off: model control outside explicit mode
	Unauthenticated                  // no API key, or one the server does not know
	PermissionDenied                 // an API key without the scope the operation needs
	UnsupportedMediaType             // a body of a content type the operation does not take
	RequestTimeout                   // the client did not send its whole request in time
)

var kindNames = [...]string{
	Internal: "internal", InvalidArgument: "invalid argument", Malformed: "malformed",
	NotFound: "not found", Unavailable: "unavailable", Overloaded: "overloaded", ResourceExhausted: "resource exhausted",
	DeadlineExceeded: "deadline exceeded", Cancelled: "cancelled",
	FailedPrecondition: "failed precondition", Unimplemented: "unimplemented", NotAllowed: "not allowed",
	RequestTimeout:  "request timeout",
	Unauthenticated: "unauthenticated", PermissionDenied: "permission denied", UnsupportedMediaType: "unsupported media type",
}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Detail names one input at fault and what is wrong with it.
type Detail struct {
	Input   string
	Message string
}

// Error is a request that failed, as every front end reports it.
type Error struct {
	Kind Kind
	// Message is the whole sentence, with the model and input named: the
	// Open Inference Protocol's error text.
	Message string
	// Details list the inputs at fault, for front ends that report fields
	// (/v1); Message already names them.
	Details []Detail
	// RetryAfter, when set, is how long the client had best wait.
	RetryAfter time.Duration
	// Err is the cause, for the server's log; never sent.
	Err error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an error of kind k.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// invalidInput is an InvalidArgument error about one input.
func invalidInput(input, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: InvalidArgument, Message: msg, Details: []Detail{{Input: input, Message: msg}}}
}

// From turns any error into an *Error: the one place where the errors of
// package runtime and of context get their kind.
func From(err error) *Error {
	if err == nil {
		return nil // before the targets below, which errors.As makes escape
	}
	var (
		e  *Error
		nf *runtime.NotFoundError
		un *runtime.UnavailableError
		ol *runtime.OverloadedError
		le *runtime.LoadError
		rj *runtime.RejectedError
	)
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &nf):
		return &Error{Kind: NotFound, Message: nf.Error(), Err: err}
	case errors.As(err, &le):
		return &Error{Kind: FailedPrecondition, Message: le.Error(), Err: err}
	case errors.As(err, &ol):
		return &Error{Kind: Overloaded, Message: ol.Error(), RetryAfter: ol.RetryAfter, Err: err}
	case errors.As(err, &rj):
		return &Error{Kind: InvalidArgument, Message: rj.Error(), Err: err}
	case errors.As(err, &un):
		return &Error{Kind: Unavailable, Message: un.Error(), Err: err}
	case errors.Is(err, runtime.ErrClosed):
		return &Error{Kind: Unavailable, Message: "the server is shutting down: " + err.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: DeadlineExceeded, Message: "request deadline exceeded before the model answered: " + err.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: Cancelled, Message: "request cancelled before the model answered: " + err.Error(), Err: err}
	}
	return &Error{Kind: Internal, Message: err.Error(), Err: err}
}

// fail is From for an error that may be nil, as an error: a nil *Error in
// an error interface would not be nil.
func fail(err error) error {
	if err == nil {
		return nil
	}
	return From(err)
}
