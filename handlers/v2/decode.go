package v2

// The v2 inference request decoder. It reads the JSON header once with the
// jsontensor codec, which appends JSON tensor data straight into typed
// buffers, checking every input against the model (the core's
// Inputs.Declare: name, datatype, shape) before its data is read, and that
// the data holds exactly the elements the shape says. Binary tensor data,
// after the header, is used in place through the core's raw layout
// (inference.DecodeRaw), without touching JSON at all.

import (
	"fmt"
	"sync"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/handlers/rest"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// v2Request is a decoded inference request: the core's request, and what
// only this protocol says about the answer.
type v2Request struct {
	id    string
	hasID bool
	core  inference.Request
	// binaryAll is the request parameter binary_data_output; requested
	// says, per output asked for, whether it goes back as binary.
	binaryAll bool
	requested []v2Requested
	// pooled are the inputs decoded from JSON, into recycled buffers that
	// jsontensor.Release takes back; binary inputs may share the body's memory.
	pooled []tensor.Tensor
	// decoder is the pooled decoder that holds this request, which release
	// gives back; nil for one made otherwise.
	decoder *v2Decoder
	// outputs holds the answer's outputs where they are the model's own
	// memory (inference.Request.Lease).
	outputs runtime.Lease
}

// release gives back what the request holds, once its answer is written:
// its outputs' memory, its JSON inputs' buffers, and its decoder with the
// memory of its inputs, shapes and outputs, which no one may read after.
func (r *v2Request) release() {
	r.outputs.Release()
	jsontensor.Release(r.pooled)
	if v := r.decoder; v != nil {
		v.reset()
		decoders.Put(v)
	}
}

// binary says whether the j-th output of the response goes back as binary.
func (r *v2Request) binary(j int) bool {
	if j < len(r.requested) && r.requested[j].set {
		return r.requested[j].binary
	}
	return r.binaryAll
}

// v2Input is one input object as it is read; its fields can come in any order.
type v2Input struct {
	pos      int // in the request's inputs array, for messages
	index    int // in Signature.Inputs once checked, else -1
	name     string
	datatype string
	shape    []int64
	has      fields          // which of name, datatype, shape, parameters, data came
	binSize  int64           // parameters.binary_data_size, -1 if absent; set, the data follows the JSON
	late     bool            // "data" came before name, datatype or shape: it is read after the object
	dataAt   jsontensor.Mark // where that "data" starts
}

type v2Decoder struct {
	d      jsontensor.Decoder
	m      *runtime.Model
	req    v2Request
	inputs inference.Inputs
	// ins are the inputs as read, in request order; those with binary
	// data take it from after the JSON in that order.
	ins  []v2Input
	dims []int64 // every input's shape, one after another
	seen fields  // which top-level fields came
}

// decoders recycles decoders with the memory they grew: a request then
// makes no slice for its inputs, shapes or outputs.
var decoders = sync.Pool{New: func() any { return &v2Decoder{dims: make([]int64, 0, 16)} }}

// reset empties v for another request, keeping its slices' memory.
func (v *v2Decoder) reset() {
	// What they hold (strings, tensors over the body and pooled buffers)
	// must not stay pinned while the decoder is idle.
	clear(v.ins)
	clear(v.req.requested)
	clear(v.req.pooled)
	clear(v.req.core.Outputs)
	v.inputs.Release() // keeps its slice's memory for the next request
	*v = v2Decoder{ins: v.ins[:0], dims: v.dims[:0], inputs: v.inputs, req: v2Request{
		requested: v.req.requested[:0], pooled: v.req.pooled[:0], core: inference.Request{Outputs: v.req.core.Outputs[:0]}}}
}

// decodeV2 parses an inference request for m whose JSON header is
// body[:header] and whose binary tensor data is body[header:]. The request
// must be released once its answer is written.
func decodeV2(body []byte, header int, m *runtime.Model) (*v2Request, error) {
	v := decoders.Get().(*v2Decoder)
	v.m, v.req.decoder = m, v
	v.inputs.Reset(m)
	v.inputs.Bound(len(body))
	v.d.Reset(body[:header])
	err := v.header()
	if err == nil {
		err = v.binary(body[header:])
	}
	if err != nil {
		v.req.release() // nothing else holds it: the decoder goes back now
		return nil, err
	}
	v.req.core.Inputs = v.inputs.Tensors()
	for _, o := range v.req.requested { // none asked for: every output
		v.req.core.Outputs = append(v.req.core.Outputs, inference.RequestedOutput{Name: o.name, Classes: o.classes})
	}
	return &v.req, nil
}

func (v *v2Decoder) header() *inference.Error {
	d := &v.d
	switch c := d.Next(); {
	case d.AtEnd():
		return badRequest("empty request: expected an inference request object")
	case c != '{':
		return rest.CodecError(d.Fail("a JSON object"))
	}
	if err := object(d, v.member); err != nil {
		return err
	}
	if !d.AtEnd() {
		return rest.CodecError(d.Fail("end of the inference header after its object"))
	}
	return nil
}

// member reads one top-level field. Unknown ones, such as Triton's
// "model_name" or sequence parameters, are skipped as Triton skips them.
func (v *v2Decoder) member(key []byte) *inference.Error {
	d := &v.d
	switch string(key) {
	case "id", "parameters", "inputs", "outputs":
		// A second "inputs" must not add to the first.
		if !v.seen.add(key) {
			return badRequest("duplicate field %q", string(key))
		}
	}
	switch string(key) {
	case "id":
		id, err := v.string(top("id"), nil)
		v.req.id, v.req.hasID = id, true
		return err
	case "parameters":
		return v.parameters(top("parameters"), func(p string) *inference.Error {
			var err *inference.Error
			switch p {
			case "binary_data_output":
				v.req.binaryAll, err = v.bool(top("parameters.binary_data_output"))
			case "timeout":
				v.req.core.Timeout, err = v.timeout()
			default:
				err = rest.CodecError(d.Skip())
			}
			return err
		})
	case "inputs":
		return v.array("inputs", v.input)
	case "outputs":
		return v.array("outputs", v.output)
	}
	return rest.CodecError(d.Skip())
}

// input reads one input object. Its data is read as soon as name, datatype
// and shape are known and checked, which with every client seen so far is
// where "data" comes; otherwise it is skipped and read after the object.
func (v *v2Decoder) input(pos int) *inference.Error {
	// in stays valid while its object is read: no other input is added.
	v.ins = append(v.ins, v2Input{pos: pos, index: -1, binSize: -1})
	in := &v.ins[len(v.ins)-1]
	d := &v.d
	err := object(d, func(key []byte) *inference.Error {
		switch string(key) {
		case "name", "datatype", "shape", "parameters", "data":
			if !in.has.add(key) {
				return badRequest("%s: duplicate field %q", v.inputField(in), string(key))
			}
		}
		var err *inference.Error
		switch string(key) {
		case "name":
			in.name, err = v.string(in.where("name"), v.inputName)
		case "datatype":
			in.datatype, err = v.string(in.where("datatype"), v.datatypeName)
		case "shape":
			in.shape, err = v.shape(in)
		case "parameters":
			err = v.parameters(in.where("parameters"), func(p string) *inference.Error { return v.inputParameter(in, p) })
		case "data":
			if in.has.has("name") && in.has.has("datatype") && in.has.has("shape") {
				if err := v.check(in); err != nil {
					return err
				}
				return v.data(in, d)
			}
			in.late, in.dataAt = true, d.Mark()
			err = rest.CodecError(d.Skip())
		default:
			err = rest.CodecError(d.Skip())
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, k := range []string{"name", "datatype", "shape"} {
		if !in.has.has(k) {
			return badRequest("%s: missing %q", v.inputField(in), k)
		}
	}
	if in.index < 0 {
		if err := v.check(in); err != nil {
			return err
		}
	}
	switch {
	case in.has.has("data") && in.binSize >= 0:
		return badRequest("input '%s' must set only one of 'data' and 'binary_data_size' in 'parameters', but sets both", in.name)
	case in.binSize >= 0: // the data follows the JSON
	case !in.has.has("data"):
		return badRequest("input '%s' must set one of 'data' and 'binary_data_size' in 'parameters', but sets neither", in.name)
	case in.late:
		late := *d
		late.Seek(in.dataAt)
		return v.data(in, &late)
	}
	return nil
}

// inputField names an input in messages: by name once it has one.
func (v *v2Decoder) inputField(in *v2Input) string {
	if in.name != "" {
		return fmt.Sprintf("input '%s'", in.name)
	}
	return fmt.Sprintf("inputs[%d]", in.pos)
}

// where is the place of an input's field key in the request, for messages.
func (in *v2Input) where(key string) where {
	return where{list: "inputs", pos: in.pos, key: key, dim: -1}
}

// inputName is the model's own string for an input name it has.
func (v *v2Decoder) inputName(s []byte) (string, bool) {
	return ownString(s, v.m.Signature.Inputs, func(t *tensor.TensorSpec) string { return t.Name })
}

// datatypeName is the v2 name of one of the model's inputs' datatypes,
// when s is one: the datatypes a request for it is expected to send.
func (v *v2Decoder) datatypeName(s []byte) (string, bool) {
	return ownString(s, v.m.Signature.Inputs, func(t *tensor.TensorSpec) string { return t.DType.V2Name() })
}

// outputName is the model's own string for an output name it has.
func (v *v2Decoder) outputName(s []byte) (string, bool) {
	return ownString(s, v.m.Signature.Outputs, func(t *tensor.TensorSpec) string { return t.Name })
}

// ownString is the string of(t) of one of specs that equals s, so that a
// request's names and datatypes cost no copy of their own.
func ownString(s []byte, specs []tensor.TensorSpec, of func(*tensor.TensorSpec) string) (string, bool) {
	for i := range specs {
		if k := of(&specs[i]); string(s) == k {
			return k, true
		}
	}
	return "", false
}

func (v *v2Decoder) inputParameter(in *v2Input, p string) *inference.Error {
	switch p {
	case "binary_data_size":
		n, err := v.count(in.where("parameters.binary_data_size"))
		in.binSize = n
		return err
	}
	if err := inference.CheckTensorParameter(v.inputField(in), p); err != nil {
		return inference.From(err)
	}
	return rest.CodecError(v.d.Skip())
}

// check matches an input's name, datatype and shape against the model.
func (v *v2Decoder) check(in *v2Input) *inference.Error {
	i, err := v.inputs.Declare(in.name, in.datatype, in.shape)
	if err != nil {
		return inference.From(err)
	}
	in.index = i
	return nil
}

// data reads the JSON data of a checked input, flat or nested as its shape.
func (v *v2Decoder) data(in *v2Input, d *jsontensor.Decoder) *inference.Error {
	spec := &v.m.Signature.Inputs[in.index]
	n := tensor.NumElements(in.shape)
	if d.Next() != '[' {
		return rest.CodecError(d.Mismatch(v.inputField(in)+": data", "an array"))
	}
	col := jsontensor.NewColumn(spec.DType)
	// Reserve no more than the rest of the body could fill, however large
	// the declared shape.
	col.Reserve(d, n)
	var err *jsontensor.Error
	if d.FirstElement() == '[' {
		// Nested: the walk checks every level against the shape.
		ws := tensor.TensorSpec{Name: in.name, DType: spec.DType, Shape: in.shape}
		var w jsontensor.Walk
		w.Reset(&ws, "inputs.", false)
		err = col.Nested(d, &w)
	} else {
		err = col.Flat(d, "inputs."+in.name)
	}
	if err != nil {
		return rest.CodecError(err)
	}
	t := col.Tensor(in.shape)
	if got := t.Len(); got != n {
		return badRequest("input '%s': shape %s has %d elements, but data has %d", in.name, tensor.FormatShape(in.shape), n, got)
	}
	v.inputs.Set(in.index, t)
	v.req.pooled = append(v.req.pooled, t)
	return nil
}

// binary decodes the inputs sent as binary data, which follow the JSON in
// the order the inputs are listed.
func (v *v2Decoder) binary(raw []byte) *inference.Error {
	off := 0
	for i := range v.ins {
		in := &v.ins[i]
		if in.binSize < 0 {
			continue
		}
		if in.binSize > int64(len(raw)-off) {
			return badRequest("unexpected size for input '%s', expecting %d additional bytes for model '%s'", in.name, in.binSize-int64(len(raw)-off), v.m.Name)
		}
		end := off + int(in.binSize)
		t, err := inference.DecodeRaw(v.m.Signature.Inputs[in.index].DType, in.shape, raw[off:end])
		if err != nil {
			return badRequest("input '%s': %v", in.name, err)
		}
		v.inputs.Set(in.index, t)
		off = end
	}
	if off != len(raw) {
		return badRequest("unexpected additional input data for model '%s': %d bytes after the last binary input", v.m.Name, len(raw)-off)
	}
	return nil
}
