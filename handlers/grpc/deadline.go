package grpc

import (
	"context"
	"time"
)

// grpc-go's transport resets a stream with CANCEL the moment its
// grpc-timeout passes (internal/transport/http2_server.go, a timer of its
// own), and a reset carries no status: a client whose own deadline timer
// is late (a busy event loop, say) reports CANCELLED for a call that ran
// out of time. The core therefore gets a deadline a little before the
// transport's, so that a run cut by the deadline answers DEADLINE_EXCEEDED
// before the reset. The margin must cover the ORT node in flight when the
// core terminates the run (ORT checks between nodes) and the status write;
// a kernel longer than that still loses the race, and its client sees the
// reset, as without the margin. Envoy's grpc_timeout_header_offset does
// the same for its upstreams.
const (
	marginShare = 10                    // a tenth of the time the call has
	maxMargin   = 10 * time.Millisecond // and at most this
)

// answerInTime returns ctx with its deadline, if it has one, moved earlier
// by the margin: the deadline the core is to meet.
func answerInTime(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	margin := min(time.Until(deadline)/marginShare, maxMargin)
	if margin <= 0 {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline.Add(-margin))
}
