package runtime

import (
	"context"
	"time"
)

// Observer is told about the ORT runs that serve requests, for metrics.
// It is given in LoadOptions; nil observes nothing. Its methods are called
// from many goroutines at once, on the path of the requests they report,
// so they must be safe for concurrent use and return quickly.
type Observer interface {
	// Ran reports one ORT run of m, whatever its outcome, before any of
	// its requests get their results. Warm-up runs at load, those that
	// plan the outputs and those of the config's warmup, serve no request
	// and are not reported.
	Ran(m *Model, run Run)
}

// Run is one ORT run, as the Observer and a request's Stats see it.
type Run struct {
	// Requests is how many requests the run served (1 without dynamic
	// batching); Rows its batch, the sum of theirs (0 for a model without
	// a batched input).
	Requests, Rows int
	// Input is the time spent wrapping the inputs and preallocated outputs
	// for ORT, Infer ORT's run itself, Output reading the outputs back.
	Input, Infer, Output time.Duration
	// Failed is whether the run returned an error.
	Failed bool
}

// Stats is what the runtime tells about one request, for its access log
// and metrics: Infer fills the Stats its context carries (WithStats).
type Stats struct {
	// Queue is how long the request waited for a run slot, or for its
	// batch to start.
	Queue time.Duration
	// Run is the run that served it; zero when it never ran.
	Run Run
}

// StatsKey is the context key Infer looks its *Stats up by. WithStats
// stores one under it; a caller's own context type may answer it too, so
// that a request's Stats and the context carrying them are one allocation
// (package inference's Record does).
type StatsKey struct{}

// WithStats returns a context whose requests' Infer fills s.
func WithStats(ctx context.Context, s *Stats) context.Context {
	return context.WithValue(ctx, StatsKey{}, s)
}

// StatsOf is the Stats ctx carries, or nil.
func StatsOf(ctx context.Context) *Stats {
	s, _ := ctx.Value(StatsKey{}).(*Stats)
	return s
}

// ran tells the model's Observer, if any, about one run.
func (m *Model) ran(run Run) {
	if m.observer != nil {
		m.observer.Ran(m, run)
	}
}

// Pending is how many requests wait to run on m: what max_queue_size
// bounds.
func (m *Model) Pending() int { return m.admit.queued() }
