package inference

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Every rule an input must meet is here, worded as Triton words it, so that
// every front end refuses the same requests with the same text.

// Inputs collects a request's inputs as a protocol that names them sends
// them (v2, gRPC): each is checked against the model as soon as its name,
// datatype and shape are known, before its data is read, so that no
// buffer is sized from a shape the model would refuse.
type Inputs struct {
	m *runtime.Model
	// ts are the inputs, from the first Set or Tensors; empty before,
	// over the memory an earlier request's left, so that a front end that
	// keeps its Inputs from request to request makes none per request.
	ts []tensor.Tensor
	// declared marks the inputs declared so far, whose data may not have
	// come yet: bit i of small, or many[i] for a model of more than 64.
	small uint64
	many  []bool
	bound int64 // most elements an input may have; 0 for no bound
}

// NewInputs starts collecting the inputs of a request for m.
func NewInputs(m *runtime.Model) *Inputs {
	in := &Inputs{}
	in.Reset(m)
	return in
}

// Reset starts collecting the inputs of another request, for m, so that a
// decoder can keep its Inputs by value.
func (in *Inputs) Reset(m *runtime.Model) {
	in.Release()
	in.m = m
	if n := len(m.Signature.Inputs); n > 64 {
		in.many = make([]bool, n)
	}
}

// Release lets go of the request's tensors and model, keeping only the
// tensors' memory for the next Reset: an idle decoder pins nothing.
func (in *Inputs) Release() {
	clear(in.ts[:cap(in.ts)])
	*in = Inputs{ts: in.ts[:0]}
}

// tensors makes ts the length of the model's inputs, on the memory kept.
func (in *Inputs) tensors() []tensor.Tensor {
	if n := len(in.m.Signature.Inputs); len(in.ts) != n {
		in.ts = slices.Grow(in.ts[:0], n)[:n]
	}
	return in.ts
}

// Bound says that no input of this request can have more than n elements:
// a front end knows how many the request it read can carry, at least a
// byte each, so that Declare refuses a shape whose product is past that,
// or would overflow, before anything is sized or counted from it.
func (in *Inputs) Bound(n int) { in.bound = int64(n) }

func (in *Inputs) declared(i int) bool {
	if in.many != nil {
		return in.many[i]
	}
	return in.small&(1<<i) != 0
}

func (in *Inputs) declare(i int) {
	if in.many != nil {
		in.many[i] = true
	} else {
		in.small |= 1 << i
	}
}

// Name declares an input by its name alone, for a protocol whose inputs
// take the model's datatype and shape as they are read (/v1), and returns
// its index in Signature.Inputs.
func (in *Inputs) Name(name string) (int, error) {
	i, e := in.lookup(name)
	if e != nil {
		if i == unknown {
			// /v1's clients read the error to fix the body: name what fits.
			e = invalidInput(name, "%s; expected one of %s", e.Message, tensor.QuoteNames(tensor.Names(in.m.Signature.Inputs)))
		}
		return -1, e
	}
	in.declare(i)
	return i, nil
}

// unknown is lookup's index for a name the model does not have.
const unknown = -2

// lookup finds a named input; a name the model does not have, or one
// already declared, is refused.
func (in *Inputs) lookup(name string) (int, *Error) {
	i := in.m.Signature.Input(name)
	if i < 0 {
		return unknown, invalidInput(name, "unexpected inference input '%s' for model '%s'", name, in.m.Name)
	}
	if in.declared(i) {
		return -1, invalidInput(name, "input '%s' appears twice", name)
	}
	return i, nil
}

// Declare checks an input's name (as Name does), datatype (the v2 name,
// e.g. "FP32") and shape against the model, and returns its index in
// Signature.Inputs.
func (in *Inputs) Declare(name, datatype string, shape []int64) (int, error) {
	i, e := in.lookup(name)
	if e != nil {
		return -1, e
	}
	spec := &in.m.Signature.Inputs[i]
	if want := spec.DType.V2Name(); datatype != want {
		if _, ok := tensor.ParseV2(datatype); !ok {
			return -1, invalidInput(name, "input '%s': unknown datatype '%s'", name, datatype)
		}
		return -1, wrongDType(in.m, name, datatype, want)
	}
	if err := checkShape(in.m, spec, shape, in.bound); err != nil {
		return -1, err
	}
	in.declare(i)
	return i, nil
}

// CheckTensorParameter refuses a parameter of an input or requested
// output that would move its data out of the request or response, and
// that this server does not honour: those of Triton's shared-memory
// extension. where names the tensor in the message.
func CheckTensorParameter(where, key string) error {
	switch key {
	case "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset":
		return Errorf(InvalidArgument, "%s: the shared-memory extension is not supported; the data goes in the request and the response", where)
	}
	return nil
}

// Set gives declared input i its data.
func (in *Inputs) Set(i int, t tensor.Tensor) { in.tensors()[i] = t }

// Tensors returns the inputs in Signature.Inputs order, for Request.Inputs.
func (in *Inputs) Tensors() []tensor.Tensor { return in.tensors() }

func wrongDType(m *runtime.Model, input, got, want string) *Error {
	return invalidInput(input, "inference input '%s' data-type is '%s', but model '%s' expects '%s'", input, got, m.Name, want)
}

// within reports whether shape, of dims that are not negative, has at
// most limit elements, without overflowing on the way.
func within(shape []int64, limit int64) bool {
	n := int64(1)
	for _, d := range shape {
		if d == 0 {
			return true
		}
		if n > limit/d {
			return false
		}
		n *= d
	}
	return n <= limit
}

// checkShape matches a shape against an input's declared one and the
// model's max_batch_size: the largest batch a request may send. A bound
// above 0 is the most elements the request can carry (Inputs.Bound).
func checkShape(m *runtime.Model, spec *tensor.TensorSpec, shape []int64, bound int64) error {
	for k, d := range shape {
		if d < 0 {
			return invalidInput(spec.Name, "input '%s': dimension %d of shape %s is negative", spec.Name, k, tensor.FormatShape(shape))
		}
	}
	if bound > 0 && !within(shape, bound) {
		return invalidInput(spec.Name, "input '%s': shape %s has more elements than a request of %d bytes can carry", spec.Name, tensor.FormatShape(shape), bound)
	}
	fits := len(shape) == len(spec.Shape)
	for k := 0; fits && k < len(shape); k++ {
		fits = spec.Shape[k] < 0 || spec.Shape[k] == shape[k]
	}
	if !fits {
		return invalidInput(spec.Name, "unexpected shape for input '%s' for model '%s'. Expected %s, got %s",
			spec.Name, m.Name, tensor.FormatShape(spec.Shape), tensor.FormatShape(shape))
	}
	if mb := m.Config.MaxBatchSize; mb > 0 && len(spec.Shape) > 0 && spec.Shape[0] < 0 && shape[0] > int64(mb) {
		return invalidInput(spec.Name, "inference request batch-size must be <= %d for '%s', input '%s' has %d", mb, m.Name, spec.Name, shape[0])
	}
	return nil
}

// checkStrings refuses a string element with a NUL byte: ONNX Runtime
// takes C strings, and would silently cut the element there.
func checkStrings(spec *tensor.TensorSpec, t tensor.Tensor) error {
	ss, _ := t.Data.([]string)
	for j, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return invalidInput(spec.Name, "input '%s': element %d holds a NUL byte, which ONNX Runtime would cut the string at", spec.Name, j)
		}
	}
	return nil
}

// validate checks a whole request's inputs, in Signature.Inputs order:
// every input is there, each fits its declared dtype and shape and the
// batch limit, and all batched inputs agree on the batch, which merging
// requests along dim 0 and preallocating outputs rely on.
func validate(m *runtime.Model, ts []tensor.Tensor) error {
	sig := &m.Signature
	if len(ts) != len(sig.Inputs) {
		return Errorf(Internal, "model '%s': %d inputs decoded for %d", m.Name, len(ts), len(sig.Inputs))
	}
	var missing []string
	for i := range ts {
		spec := &sig.Inputs[i]
		switch {
		case ts[i].Data == nil:
			missing = append(missing, spec.Name)
		case ts[i].DType != spec.DType:
			return wrongDType(m, spec.Name, ts[i].DType.V2Name(), spec.DType.V2Name())
		default:
			if err := checkShape(m, spec, ts[i].Shape, 0); err != nil {
				return err
			}
			if err := checkStrings(spec, ts[i]); err != nil {
				return err
			}
		}
	}
	if missing != nil {
		e := Errorf(InvalidArgument, "expected %d inputs but got %d inputs for model '%s'; missing input(s) %s",
			len(sig.Inputs), len(sig.Inputs)-len(missing), m.Name, tensor.QuoteNames(missing))
		for _, name := range missing {
			e.Details = append(e.Details, Detail{Input: name, Message: "missing input"})
		}
		return e
	}
	if at, first := sig.BatchMismatch(ts); at >= 0 {
		name := sig.Inputs[at].Name
		msg := fmt.Sprintf("batch of %d differs from input %s's batch of %d", ts[at].Shape[0], sig.Inputs[first].Name, ts[first].Shape[0])
		// The whole sentence is the one /v2 has always sent.
		return &Error{Kind: InvalidArgument, Message: "validation failed: inputs." + name + ": " + msg, Details: []Detail{{Input: name, Message: msg}}}
	}
	return nil
}
