package grpc

import (
	"context"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/onnxserve/onnxserve/handlers/inference"
)

// Code maps an error kind to its gRPC status code: the one place this
// front end decides one. A full queue is RESOURCE_EXHAUSTED, as gRPC has
// it for a quota ("out of capacity, retry later"), not UNAVAILABLE, which
// clients take for a server that is down; model control turned off is
// FAILED_PRECONDITION, the server not in the state the call needs.
func Code(k inference.Kind) codes.Code {
	switch k {
	case inference.InvalidArgument, inference.Malformed:
		return codes.InvalidArgument
	case inference.NotFound:
		return codes.NotFound
	case inference.Unavailable:
		return codes.Unavailable
	case inference.Overloaded, inference.ResourceExhausted:
		return codes.ResourceExhausted
	case inference.DeadlineExceeded, inference.RequestTimeout:
		return codes.DeadlineExceeded
	case inference.Cancelled:
		return codes.Canceled
	case inference.FailedPrecondition, inference.NotAllowed:
		return codes.FailedPrecondition
	case inference.Unimplemented:
		return codes.Unimplemented
	case inference.Unauthenticated:
		return codes.Unauthenticated
	case inference.PermissionDenied:
		return codes.PermissionDenied
	case inference.UnsupportedMediaType:
		return codes.InvalidArgument
	}
	return codes.Internal
}

// failure turns err into the status a client sees: its kind's code, the
// core's message, and for a full queue how long to wait as a
// google.rpc.RetryInfo detail (gRPC's Retry-After). Only the server's own
// failures (Internal) are logged, as over REST: every other kind is the
// server refusing what it was built to refuse.
func failure(ctx context.Context, log *slog.Logger, method string, err error) *status.Status {
	e := inference.From(err)
	st := status.New(Code(e.Kind), e.Message)
	if e.RetryAfter > 0 {
		if with, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)}); derr == nil {
			st = with
		}
	}
	if e.Kind == inference.Internal {
		cause := error(e)
		if e.Err != nil {
			cause = e.Err
		}
		log.ErrorContext(ctx, "request failed", "method", method, "code", st.Code().String(), "err", cause)
	}
	return st
}
