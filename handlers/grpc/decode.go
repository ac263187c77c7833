package grpc

// The ModelInferRequest decoder: it turns the message into the core's
// Request. Every input is declared to the core (name, datatype, shape:
// inference.Inputs.Declare) before its data is looked at; raw contents go
// through the core's raw layout (inference.DecodeRaw), in place; typed
// contents are used as the message holds them where the Go types agree,
// and narrowed with a range check where they do not (INT8, INT16, UINT8,
// UINT16 travel as 32-bit values). What is left here is what only this
// wire can get wrong: raw and typed contents mixed, raw entries not one
// per input, contents in a field that is not the datatype's.

import (
	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// decode reads req for m. bound is the largest message the server takes:
// no input can have more elements than that many bytes carry.
func decode(m *runtime.Model, req *pb.ModelInferRequest, bound int) (*inference.Request, error) {
	raw := req.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(req.GetInputs()) {
		return nil, invalid("raw_input_contents has %d entries for %d inputs; send one per input, in the order of inputs", len(raw), len(req.GetInputs()))
	}
	var in inference.Inputs
	in.Reset(m)
	in.Bound(bound)
	for k, input := range req.GetInputs() {
		name := input.GetName()
		for key := range input.GetParameters() {
			if err := inference.CheckTensorParameter("input '"+name+"'", key); err != nil {
				return nil, err
			}
		}
		i, err := in.Declare(name, input.GetDatatype(), input.GetShape())
		if err != nil {
			return nil, err
		}
		dt := m.Signature.Inputs[i].DType
		shape := input.GetShape()
		if shape == nil {
			shape = []int64{} // a scalar
		}
		var t tensor.Tensor
		if len(raw) > 0 {
			if input.GetContents() != nil {
				return nil, invalid("input '%s' has contents, but the request sends raw_input_contents: send every input one way", name)
			}
			if t, err = inference.DecodeRaw(dt, shape, raw[k]); err != nil {
				return nil, invalid("input '%s' (raw_input_contents[%d]): %v", name, k, err)
			}
		} else if t, err = typed(name, dt, shape, input.GetContents()); err != nil {
			return nil, err
		}
		in.Set(i, t)
	}
	r := &inference.Request{Inputs: in.Tensors()}
	if p, ok := req.GetParameters()["timeout"]; ok {
		us, ok := p.GetParameterChoice().(*pb.InferParameter_Int64Param)
		switch {
		case !ok:
			return nil, invalid("parameter 'timeout' must be an int64_param of microseconds")
		case us.Int64Param < 0:
			return nil, invalid("parameter 'timeout' is %d: microseconds, 0 (none) or more", us.Int64Param)
		}
		r.Timeout = inference.Microseconds(uint64(us.Int64Param))
	}
	for _, o := range req.GetOutputs() {
		ro, err := requested(o)
		if err != nil {
			return nil, err
		}
		r.Outputs = append(r.Outputs, ro)
	}
	return r, nil
}

// requested reads one requested output and its parameters: classification
// (int64) asks for the top k classes; Triton's binary_data means nothing
// here, where every output is raw.
func requested(o *pb.ModelInferRequest_InferRequestedOutputTensor) (inference.RequestedOutput, error) {
	ro := inference.RequestedOutput{Name: o.GetName()}
	where := "output '" + ro.Name + "'"
	for key, p := range o.GetParameters() {
		if err := inference.CheckTensorParameter(where, key); err != nil {
			return ro, err
		}
		if key != "classification" {
			continue
		}
		k, ok := p.GetParameterChoice().(*pb.InferParameter_Int64Param)
		switch {
		case !ok:
			return ro, invalid("%s: parameter 'classification' must be an int64_param", where)
		case k.Int64Param < 1:
			return ro, invalid("%s: classification must be at least 1, got %d", where, k.Int64Param)
		}
		ro.Classes = int(min(k.Int64Param, 1<<31)) // more than any output has classes
	}
	return ro, nil
}

// contentFields names InferTensorContents' fields, in field-number order.
var contentFields = [...]string{"bool_contents", "int_contents", "int64_contents", "uint_contents", "uint64_contents", "fp32_contents", "fp64_contents", "bytes_contents"}

// contentField is the index in contentFields of the field that carries a
// datatype's elements; -1 for FP16 and BF16, which have none.
func contentField(dt tensor.DType) int {
	switch dt {
	case tensor.Bool:
		return 0
	case tensor.Int8, tensor.Int16, tensor.Int32:
		return 1
	case tensor.Int64:
		return 2
	case tensor.Uint8, tensor.Uint16, tensor.Uint32:
		return 3
	case tensor.Uint64:
		return 4
	case tensor.Float32:
		return 5
	case tensor.Float64:
		return 6
	case tensor.String:
		return 7
	}
	return -1
}

func contentLengths(c *pb.InferTensorContents) [len(contentFields)]int {
	return [...]int{len(c.GetBoolContents()), len(c.GetIntContents()), len(c.GetInt64Contents()), len(c.GetUintContents()),
		len(c.GetUint64Contents()), len(c.GetFp32Contents()), len(c.GetFp64Contents()), len(c.GetBytesContents())}
}

// typed reads an input's typed contents into a tensor of dt and shape.
func typed(name string, dt tensor.DType, shape []int64, c *pb.InferTensorContents) (tensor.Tensor, error) {
	t := tensor.Tensor{DType: dt, Shape: shape}
	f := contentField(dt)
	if f < 0 {
		return t, invalid("input '%s' is %s, which has no typed contents: send it as raw_input_contents", name, dt.V2Name())
	}
	lengths := contentLengths(c)
	for g, n := range lengths {
		if g != f && n > 0 {
			return t, invalid("input '%s' is %s, whose elements go in %s, but %s holds %d", name, dt.V2Name(), contentFields[f], contentFields[g], n)
		}
	}
	if want := tensor.NumElements(shape); lengths[f] != want {
		return t, invalid("input '%s': shape %s has %d elements, but %s holds %d", name, tensor.FormatShape(shape), want, contentFields[f], lengths[f])
	}
	var err error
	switch dt {
	case tensor.Bool:
		t.Data = c.GetBoolContents()
	case tensor.Int8:
		t.Data, err = narrow[int8](name, dt, c.GetIntContents())
	case tensor.Int16:
		t.Data, err = narrow[int16](name, dt, c.GetIntContents())
	case tensor.Int32:
		t.Data = c.GetIntContents()
	case tensor.Int64:
		t.Data = c.GetInt64Contents()
	case tensor.Uint8:
		t.Data, err = narrow[uint8](name, dt, c.GetUintContents())
	case tensor.Uint16:
		t.Data, err = narrow[uint16](name, dt, c.GetUintContents())
	case tensor.Uint32:
		t.Data = c.GetUintContents()
	case tensor.Uint64:
		t.Data = c.GetUint64Contents()
	case tensor.Float32:
		t.Data = c.GetFp32Contents()
	case tensor.Float64:
		t.Data = c.GetFp64Contents()
	case tensor.String:
		b := c.GetBytesContents()
		s := make([]string, len(b))
		for j := range b {
			s[j] = string(b[j])
		}
		t.Data = s
	}
	return t, err
}

// narrow converts 32-bit wire values to a narrower element type, refusing
// any value the type cannot hold instead of wrapping it.
func narrow[T int8 | int16 | uint8 | uint16, W int32 | uint32](name string, dt tensor.DType, src []W) ([]T, error) {
	out := make([]T, len(src))
	for j, v := range src {
		out[j] = T(v)
		if W(out[j]) != v {
			lo, hi := rangeOf(dt)
			return nil, invalid("input '%s': element %d is %d, out of range for %s [%d, %d]", name, j, v, dt.V2Name(), lo, hi)
		}
	}
	return out, nil
}

func rangeOf(dt tensor.DType) (lo, hi int64) {
	if dt.IsSigned() {
		return -1 << (dt.Bits() - 1), 1<<(dt.Bits()-1) - 1
	}
	return 0, 1<<dt.Bits() - 1
}

func invalid(format string, args ...any) *inference.Error {
	return inference.Errorf(inference.InvalidArgument, format, args...)
}
