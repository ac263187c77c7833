package inference

import (
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
	// Timeout, when positive, bounds the request from the moment Infer
	// is called; the server's own Options.Timeout still applies.
	Timeout time.Duration
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
