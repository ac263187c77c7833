// Package inference is the protocol-neutral core every front end calls:
// /v1 and /v2 over REST today, gRPC next. A front end only translates its
// wire format into a Request and a Response back; everything a request
// must meet, and everything done with the model, is here once:
//
//	validate.go  inputs against the model's signature and config
//	core.go      acquire a model version, apply the deadline, run, select outputs
//	classify.go  top-k classes instead of a tensor
//	raw.go       the raw little-endian tensor layout
//	models.go    readiness, metadata, index, load and unload under the model-control policy
//	errors.go    what went wrong, as a Kind each front end maps to its statuses
//
// It knows no HTTP, no JSON and no protobuf.
package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Options configure the core.
type Options struct {
	Repository *runtime.Repository
	// ModelControl is how models may change at run time; only explicit
	// allows Load and Unload. "" is none.
	ModelControl runtime.ModelControl
	// Timeout, when positive, bounds every inference request, queued and
	// running; a model's request_timeout and a request's own Timeout may
	// only shorten it.
	Timeout time.Duration
	// Observer, when set, is told about every inference request answered.
	Observer Observer
	// MaxInflightBytes bounds the bytes requests in flight hold, every
	// protocol's together (Budget); 0 counts them without a bound.
	MaxInflightBytes int64
	Logger           *slog.Logger
}

// Core serves inference and model control over one repository.
type Core struct {
	repo     *runtime.Repository
	control  runtime.ModelControl
	timeout  time.Duration
	observer Observer
	budget   *Budget
	log      *slog.Logger
	// draining is set once the server starts to shut down: from then on
	// it is not ready, while it still serves.
	draining atomic.Bool
}

// New returns the core over opt.Repository.
func New(opt Options) *Core {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ModelControl == "" {
		opt.ModelControl = runtime.ControlNone
	}
	return &Core{repo: opt.Repository, control: opt.ModelControl, timeout: opt.Timeout, observer: opt.Observer,
		budget: NewBudget(opt.MaxInflightBytes), log: opt.Logger}
}

// Budget is the server-wide budget of bytes held by requests in flight,
// which every front end reserves from before it holds a body or a tensor.
func (c *Core) Budget() *Budget { return c.budget }

// Acquire holds a model version, the default (highest) one for version "",
// until release is called. Front ends read a request's body before they
// acquire, so that a slow upload never keeps a reload waiting.
func (c *Core) Acquire(name, version string) (m *runtime.Model, release func(), err error) {
	m, release, err = c.repo.Acquire(name, version)
	if err != nil {
		return nil, nil, From(err)
	}
	return m, release, nil
}

// Find reports whether a model version can be acquired, with Acquire's
// error if not, without holding it: a front end finds the model a request
// names before it reads the body, so that a request for an unknown model
// is answered before any of its bytes are held.
func (c *Core) Find(name, version string) error { return fail(c.repo.Find(name, version)) }

// Infer validates req against m (acquired and not yet released), runs it
// within the deadline, and returns the outputs asked for. ORT reads the
// inputs in place until Infer returns: their buffers may be reused after.
func (c *Core) Infer(ctx context.Context, m *runtime.Model, req *Request) (_ *Response, err error) {
	if ctx, rec := c.begin(ctx, m); rec != nil {
		defer func(start time.Time) { c.end(m, rec, start, req, err) }(time.Now())
		return c.infer(ctx, m, req)
	}
	return c.infer(ctx, m, req)
}

func (c *Core) infer(ctx context.Context, m *runtime.Model, req *Request) (*Response, error) {
	selected, err := check(m, req)
	if err != nil {
		return nil, err
	}
	// The outputs asked for are all that is computed (runtime's sessions
	// per output set); none asked for is every one.
	var computed []int
	if len(req.Outputs) > 0 {
		computed = make([]int, len(selected))
		for j, o := range selected {
			computed[j] = o.index
		}
	}
	outs, err := c.run(ctx, m, req, computed)
	if err != nil {
		return nil, err
	}
	resp := &Response{Model: m, Outputs: selected}
	batch := m.Batch(req.Inputs)
	for j := range selected {
		o := &selected[j]
		t := outs[o.index]
		if o.classes > 0 {
			spec := m.Signature.Outputs[o.index]
			batched := batch > 0 && len(spec.Shape) > 0 && spec.Shape[0] < 0 && len(t.Shape) > 0
			var labels []string
			if o.index == m.ScoresOutput() {
				labels = m.Config.Labels
			}
			if t, err = classify(t, o.classes, batched, labels); err != nil {
				return nil, &Error{Kind: Internal, Message: "output '" + spec.Name + "': " + err.Error(), Err: err}
			}
		}
		o.Name, o.Tensor = m.Signature.Outputs[o.index].Name, t
	}
	return resp, nil
}

// InferAll is Infer for a protocol that answers with every output as the
// model gives it (/v1): req.Outputs must be empty, and no selection or
// classification is made. It returns the outputs in Signature.Outputs order.
func (c *Core) InferAll(ctx context.Context, m *runtime.Model, req *Request) (_ []tensor.Tensor, err error) {
	if ctx, rec := c.begin(ctx, m); rec != nil {
		defer func(start time.Time) { c.end(m, rec, start, req, err) }(time.Now())
		return c.inferAll(ctx, m, req)
	}
	return c.inferAll(ctx, m, req)
}

func (c *Core) inferAll(ctx context.Context, m *runtime.Model, req *Request) ([]tensor.Tensor, error) {
	if len(req.Outputs) > 0 {
		return nil, Errorf(Internal, "InferAll with outputs requested")
	}
	if err := validate(m, req.Inputs); err != nil {
		return nil, err
	}
	return c.run(ctx, m, req, nil)
}

// run runs a checked request within its deadline, computing outputs
// (Signature.Outputs indexes; nil for every one).
func (c *Core) run(ctx context.Context, m *runtime.Model, req *Request, outputs []int) ([]tensor.Tensor, error) {
	ctx, cancel := c.deadline(ctx, m, req.Timeout)
	defer cancel()
	var outs []tensor.Tensor
	var err error
	if req.Lease != nil {
		outs, *req.Lease, err = m.InferLeased(ctx, req.Inputs, outputs)
	} else {
		outs, err = m.InferOutputs(ctx, req.Inputs, outputs)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// Which bound passed, for the answer: the core's, or the
			// client's own deadline.
			if cause := context.Cause(ctx); cause != nil {
				err = cause
			}
		}
		return nil, From(err)
	}
	return outs, nil
}

// Check reports whether req fits m, with the error Infer would return
// without running it: every rule a request must meet, for every protocol.
func Check(m *runtime.Model, req *Request) error {
	_, err := check(m, req)
	return err
}

func check(m *runtime.Model, req *Request) ([]Output, error) {
	if err := validate(m, req.Inputs); err != nil {
		return nil, err
	}
	return selectOutputs(m, req.Outputs, req.Maps)
}

// deadline bounds ctx by the shortest of the server's timeout, the model's
// request_timeout and the request's own; a client's deadline already in
// ctx stays when it is shorter still. The bound that applies is the
// context's cause, so that the answer can say which one passed.
func (c *Core) deadline(ctx context.Context, m *runtime.Model, requested time.Duration) (context.Context, context.CancelFunc) {
	bound := timeoutError{bound: "the server's request timeout", d: c.timeout}
	if d := m.Config.RequestTimeout; d > 0 && (bound.d <= 0 || d < bound.d) {
		bound = timeoutError{bound: "the model's request_timeout", d: d}
	}
	if requested > 0 && (bound.d <= 0 || requested < bound.d) {
		bound = timeoutError{bound: "the request's timeout parameter", d: requested}
	}
	if bound.d <= 0 {
		return ctx, func() {}
	}
	cause := bound // only a request with a bound pays for its cause
	return context.WithTimeoutCause(ctx, bound.d, &cause)
}

// timeoutError is the cause of a deadline the core set: which bound it was.
// It is a context.DeadlineExceeded, as the context's own error is.
type timeoutError struct {
	bound string
	d     time.Duration
}

func (e *timeoutError) Error() string        { return fmt.Sprintf("%s (%v) passed", e.bound, e.d) }
func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// selectOutputs turns the requested outputs into indexes, or lists every
// output the protocol can carry (every one with a v2 datatype: not a
// ZipMap's sequence of maps) when none were named.
func selectOutputs(m *runtime.Model, req []RequestedOutput, maps bool) ([]Output, error) {
	sig := &m.Signature
	var out []Output
	if len(req) == 0 {
		for i, spec := range sig.Outputs {
			if spec.DType.V2Name() != "" {
				out = append(out, Output{index: i})
			}
		}
		return out, nil
	}
	out = make([]Output, 0, len(req))
	for _, o := range req {
		i := sig.Output(o.Name)
		if i < 0 {
			return nil, Errorf(InvalidArgument, "unexpected inference output '%s' for model '%s'", o.Name, m.Name)
		}
		for _, s := range out {
			if s.index == i {
				return nil, Errorf(InvalidArgument, "output '%s' is requested twice", o.Name)
			}
		}
		dt := sig.Outputs[i].DType
		if dt.V2Name() == "" && !(maps && dt == tensor.MapSequence && o.Classes == 0) {
			return nil, Errorf(InvalidArgument, "output '%s' is a sequence of maps (ZipMap), which the Open Inference Protocol cannot carry; request the probability tensor, or use /v1", o.Name)
		}
		if o.Classes < 0 {
			return nil, Errorf(InvalidArgument, "output '%s': classification must be at least 1", o.Name)
		}
		if o.Classes > 0 && !dt.IsFloat() && !dt.IsInteger() {
			return nil, Errorf(InvalidArgument, "class result not available for output '%s' due to unsupported type '%s'", o.Name, dt.V2Name())
		}
		out = append(out, Output{index: i, classes: o.Classes})
	}
	return out, nil
}
