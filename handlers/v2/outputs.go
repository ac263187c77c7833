package v2

import (
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
)

// The "outputs" of a v2 inference request: which outputs to return, and
// how (JSON or binary, or as top-k classes).

// v2Requested is one entry of "outputs" as it is read.
type v2Requested struct {
	name string
	// binary is parameters.binary_data, when given (set).
	binary, set bool
	classes     int
}

func (v *v2Decoder) output(pos int) *inference.Error {
	v.req.requested = append(v.req.requested, v2Requested{})
	o := &v.req.requested[len(v.req.requested)-1] // valid while this output is read
	w := where{list: "outputs", pos: pos, dim: -1}
	var hasName bool
	err := object(&v.d, func(key []byte) *inference.Error {
		var err *inference.Error
		switch string(key) {
		case "name":
			hasName = true
			o.name, err = v.string(w.in("name"), v.outputName)
		case "parameters":
			err = v.parameters(w.in("parameters"), func(p string) *inference.Error { return v.outputParameter(o, w, p) })
		default:
			err = rest.CodecError(v.d.Skip())
		}
		return err
	})
	if err != nil {
		return err
	}
	if !hasName {
		return badRequest("%s: missing \"name\"", w.in(""))
	}
	return nil
}

func (v *v2Decoder) outputParameter(o *v2Requested, w where, p string) *inference.Error {
	switch p {
	case "binary_data":
		b, err := v.bool(w.in("parameters.binary_data"))
		o.binary, o.set = b, true
		return err
	case "classification":
		n, err := v.count(w.in("parameters.classification"))
		if err == nil && n == 0 {
			return badRequest("%s must be at least 1", w.in("parameters.classification"))
		}
		o.classes = int(min(n, 1<<31)) // more than any output has classes
		return err
	}
	if err := inference.CheckTensorParameter(w.in("").String(), p); err != nil {
		return inference.From(err)
	}
	return rest.CodecError(v.d.Skip())
}
