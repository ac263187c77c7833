package handlers

import (
	"slices"
	"strconv"
)

// The "outputs" of a v2 inference request: which outputs to return, and
// how (JSON or binary, or as top-k classes).

// v2Requested is one entry of "outputs" as it is read.
type v2Requested struct {
	name    string
	binary  *bool
	classes int
}

func (v *v2Decoder) output(pos int) *Error {
	o := v2Requested{}
	field := "outputs[" + strconv.Itoa(pos) + "]"
	var hasName bool
	err := object(&v.d, func(key []byte) *Error {
		var err *Error
		switch string(key) {
		case "name":
			hasName = true
			o.name, err = v.string(field, "name")
		case "parameters":
			err = v.parameters(field+".parameters", func(p string) *Error { return v.outputParameter(&o, field, p) })
		default:
			err = codecError(v.d.Skip())
		}
		return err
	})
	if err != nil {
		return err
	}
	if !hasName {
		return BadRequest("%s: missing \"name\"", field)
	}
	v.requested = append(v.requested, o)
	return nil
}

func (v *v2Decoder) outputParameter(o *v2Requested, field, p string) *Error {
	switch p {
	case "binary_data":
		b, err := v.bool(field, "parameters.binary_data")
		o.binary = &b
		return err
	case "classification":
		n, err := v.count(field, "parameters.classification")
		if err == nil && n == 0 {
			return BadRequest("%s.parameters.classification must be at least 1", field)
		}
		o.classes = int(min(n, 1<<31)) // more than any output has classes
		return err
	case "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset":
		return BadRequest("%s: the shared-memory extension is not supported", field)
	}
	return codecError(v.d.Skip())
}

// resolveOutputs turns the requested outputs into indexes, or lists every
// tensor output when none were named.
func (v *v2Decoder) resolveOutputs() *Error {
	if len(v.requested) == 0 {
		for i, spec := range v.sig.Outputs {
			if spec.DType.V2Name() != "" {
				v.req.outputs = append(v.req.outputs, v2Output{index: i, binary: v.binaryAll})
			}
		}
		return nil
	}
	for _, o := range v.requested {
		i := v.sig.Output(o.name)
		if i < 0 {
			return BadRequest("unexpected inference output '%s' for model '%s'", o.name, v.m.Name)
		}
		if slices.ContainsFunc(v.req.outputs, func(r v2Output) bool { return r.index == i }) {
			return BadRequest("output '%s' is requested twice", o.name)
		}
		dt := v.sig.Outputs[i].DType
		if dt.V2Name() == "" {
			return BadRequest("output '%s' is a sequence of maps (ZipMap), which the Open Inference Protocol cannot carry; request the probability tensor, or use /v1", o.name)
		}
		if o.classes > 0 && !dt.IsFloat() && !dt.IsInteger() {
			return BadRequest("class result not available for output '%s' due to unsupported type '%s'", o.name, dt.V2Name())
		}
		out := v2Output{index: i, binary: v.binaryAll, classes: o.classes}
		if o.binary != nil {
			out.binary = *o.binary
		}
		v.req.outputs = append(v.req.outputs, out)
	}
	return nil
}
