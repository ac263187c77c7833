package v2

import (
	"strconv"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
)

// The "outputs" of a v2 inference request: which outputs to return, and
// how (JSON or binary, or as top-k classes).

// v2Requested is one entry of "outputs" as it is read.
type v2Requested struct {
	name    string
	binary  *bool
	classes int
}

func (v *v2Decoder) output(pos int) *inference.Error {
	o := v2Requested{}
	field := "outputs[" + strconv.Itoa(pos) + "]"
	var hasName bool
	err := object(&v.d, func(key []byte) *inference.Error {
		var err *inference.Error
		switch string(key) {
		case "name":
			hasName = true
			o.name, err = v.string(field, "name")
		case "parameters":
			err = v.parameters(field+".parameters", func(p string) *inference.Error { return v.outputParameter(&o, field, p) })
		default:
			err = rest.CodecError(v.d.Skip())
		}
		return err
	})
	if err != nil {
		return err
	}
	if !hasName {
		return badRequest("%s: missing \"name\"", field)
	}
	v.req.requested = append(v.req.requested, o)
	return nil
}

func (v *v2Decoder) outputParameter(o *v2Requested, field, p string) *inference.Error {
	switch p {
	case "binary_data":
		b, err := v.bool(field, "parameters.binary_data")
		o.binary = &b
		return err
	case "classification":
		n, err := v.count(field, "parameters.classification")
		if err == nil && n == 0 {
			return badRequest("%s.parameters.classification must be at least 1", field)
		}
		o.classes = int(min(n, 1<<31)) // more than any output has classes
		return err
	}
	if err := inference.CheckTensorParameter(field, p); err != nil {
		return inference.From(err)
	}
	return rest.CodecError(v.d.Skip())
}
