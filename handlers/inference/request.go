package inference

import (
	"math"
	"time"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Request is one inference request, whatever protocol carried it.
type Request struct {
	// Inputs are in the model's Signature.Inputs order; an entry whose
	// Data is nil is an input the request left out. Inputs collects them
	// from a protocol that names them.
	Inputs []tensor.Tensor
	// Outputs are the outputs asked for, in response order; none means
	// every output the Open Inference Protocol can carry.
	Outputs []RequestedOutput
	// Maps says the front end carries sequence-of-maps (ZipMap) outputs,
	// as /v1 does; the Open Inference Protocol cannot, so they may be
	// asked for only when it is set.
	Maps bool
	// Timeout, when positive, bounds the request from the moment Infer
	// is called; the server's Options.Timeout and the model's
	// request_timeout still apply, the shortest winning.
	Timeout time.Duration
	// Lease, when set, lets the answer's outputs be the model's own
	// recycled memory (runtime.Model.InferLeased), held by *Lease: the
	// front end calls its Release once it has encoded the answer, and
	// before it releases the model, whatever the outcome (a run may have
	// succeeded before a later step failed; the zero Lease holds nothing).
	Lease *runtime.Lease
}

// Microseconds is the Open Inference Protocol's request parameter timeout,
// which Triton counts in microseconds, as a Timeout; one too long for a
// Duration (292 years) is the longest there is.
func Microseconds(us uint64) time.Duration {
	if us > math.MaxInt64/uint64(time.Microsecond) {
		return math.MaxInt64
	}
	return time.Duration(us) * time.Microsecond
}

// RequestedOutput is one output a request asks for by name.
type RequestedOutput struct {
	Name string
	// Classes > 0 asks for the top Classes classes per row instead of the
	// tensor (Triton's classification extension).
	Classes int
}

// Response is what Infer returns.
type Response struct {
	Model *runtime.Model
	// Outputs are the outputs requested, in the request's order, with
	// classification applied.
	Outputs []Output
}

// Output is one output of a response.
type Output struct {
	Name   string
	Tensor tensor.Tensor

	index   int // in Signature.Outputs
	classes int // as requested
}
