package inference

import (
	"context"
	"time"

	"github.com/onnxserve/onnxserve/runtime"
)

// Record is one inference request as the access log and the metrics see
// it, whatever protocol carried it: Infer fills it in.
type Record struct {
	// ID is the request's own id in its protocol (the Open Inference
	// Protocol's "id"), set by the front end when the request has one.
	ID string
	// Caller is the id of the API key the request came with (package
	// auth's Key.ID), set by the front end that checked it.
	Caller string
	// Model and Version are the model version that answered.
	Model, Version string
	// Rows is the request's batch (0 for a model without a batched input).
	Rows int
	// Duration is the time from Infer's call to its answer.
	Duration time.Duration
	// Err is why the request failed; nil when it succeeded.
	Err *Error
	// Stats are the queue wait and the run that served it, from runtime.
	runtime.Stats
}

// Observer is told about every inference request the core answers for a
// model, once Infer returns, for metrics. Its method is called from many
// goroutines at once, on the request's path: it must be safe for
// concurrent use and quick.
type Observer interface {
	Served(m *runtime.Model, r *Record)
}

type recordKey struct{}

// recordContext carries a Record, for the core and for runtime, which
// fills its Stats: the Record and the context are one allocation, where a
// Record, its context value and runtime's WithStats were three.
type recordContext struct {
	context.Context
	r Record
}

func (c *recordContext) Value(key any) any {
	switch key.(type) {
	case recordKey:
		return &c.r
	case runtime.StatsKey:
		return &c.r.Stats
	}
	return c.Context.Value(key)
}

// WithRecord returns a context whose inference request Infer records in
// the Record it returns, for a front end that logs what it served.
func WithRecord(ctx context.Context) (context.Context, *Record) {
	c := &recordContext{Context: ctx}
	return c, &c.r
}

// RecordOf is the Record ctx carries, or nil.
func RecordOf(ctx context.Context) *Record {
	r, _ := ctx.Value(recordKey{}).(*Record)
	return r
}

// begin starts the Record of a request for m, the context's or a new one
// when only the Observer will read it; nil when no one will. The context
// it returns lets runtime fill the Record's Stats: a context from
// WithRecord already does.
func (c *Core) begin(ctx context.Context, m *runtime.Model) (context.Context, *Record) {
	r := RecordOf(ctx)
	if r == nil {
		if c.observer == nil {
			return ctx, nil
		}
		ctx, r = WithRecord(ctx)
	}
	r.Model, r.Version = m.Name, m.Version
	return ctx, r
}

// end completes r with the request's outcome and tells the Observer.
func (c *Core) end(m *runtime.Model, r *Record, start time.Time, req *Request, err error) {
	r.Duration = time.Since(start)
	r.Rows = m.Batch(req.Inputs)
	r.Err = From(err)
	if c.observer != nil {
		c.observer.Served(m, r)
	}
}

// Refuse records err, why a request for m was refused before Infer (a
// front end's decoder found that it does not fit the model), as Infer
// records its own failures, so that every request for a model counts
// whichever step refused it; it returns err.
func (c *Core) Refuse(ctx context.Context, m *runtime.Model, err error) error {
	if _, rec := c.begin(ctx, m); rec != nil {
		c.end(m, rec, time.Now(), &Request{}, err)
	}
	return err
}
