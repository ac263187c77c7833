package handlers

// The v2 inference request decoder. It reads the JSON header once with the
// /v1 tokenizer and appends JSON tensor data straight into typed buffers
// with the /v1 leaves, checking every input against the model before its
// data is read: name, datatype, shape, and that the data holds exactly the
// elements the shape says. Binary tensor data (v2_binary.go) is copied from
// the bytes after the header without touching JSON at all.

import (
	"fmt"
	"slices"

	"github.com/onnxserve/onnxserve/runtime"
)

// v2Request is a decoded inference request: the inputs in signature order,
// ready for Model.Infer, and what to send back.
type v2Request struct {
	id      string
	hasID   bool
	inputs  []runtime.Tensor
	outputs []v2Output // in response order
}

// v2Output is one output to return.
type v2Output struct {
	index   int // in Signature.Outputs
	binary  bool
	classes int // > 0: the top classes, as BYTES, instead of the tensor
}

// v2Input is one input object as it is read; its fields can come in any order.
type v2Input struct {
	pos      int // in the request's inputs array, for messages
	index    int // in Signature.Inputs once checked, else -1
	name     string
	datatype string
	shape    []int64
	has      map[string]bool
	binSize  int64 // parameters.binary_data_size, -1 if absent
	dataAt   int   // where "data" starts when it came before name, datatype or shape
	dataDep  int   // the decoder's depth there
}

// v2Requested is one entry of "outputs" as it is read.
type v2Requested struct {
	name    string
	binary  *bool
	classes int
}

type v2Decoder struct {
	d         decoder
	m         *runtime.Model
	sig       *runtime.Signature
	limit     int // no tensor can have more elements than the body has bytes
	req       v2Request
	binaryAll bool // request parameter binary_data_output
	requested []v2Requested
	binaries  []*v2Input // inputs with binary data, in request order
	seen      map[string]bool
}

// decodeV2 parses an inference request for m whose JSON header is
// body[:header] and whose binary tensor data is body[header:].
func decodeV2(body []byte, header int, m *runtime.Model) (*v2Request, error) {
	v := &v2Decoder{
		d: decoder{b: body[:header]}, m: m, sig: &m.Signature, limit: len(body),
		req:  v2Request{inputs: make([]runtime.Tensor, len(m.Signature.Inputs))},
		seen: map[string]bool{},
	}
	if err := v.header(); err != nil {
		return nil, err
	}
	if err := v.binary(body[header:]); err != nil {
		return nil, err
	}
	if err := v.complete(); err != nil {
		return nil, err
	}
	if err := checkBatch(v.sig, v.req.inputs, "inputs."); err != nil {
		return nil, err
	}
	if err := v.resolveOutputs(); err != nil {
		return nil, err
	}
	return &v.req, nil
}

func (v *v2Decoder) header() *Error {
	d := &v.d
	switch c := d.next(); {
	case d.i == len(d.b):
		return BadRequest("empty request: expected an inference request object")
	case c != '{':
		return d.fail("a JSON object")
	}
	if err := d.object(v.member); err != nil {
		return err
	}
	if d.next(); d.i != len(d.b) {
		return d.fail("end of the inference header after its object")
	}
	return nil
}

// once rejects a repeated key: a second "inputs" must not add to the first.
func (v *v2Decoder) once(key string) *Error {
	if v.seen[key] {
		return BadRequest("duplicate field %q", key)
	}
	v.seen[key] = true
	return nil
}

// member reads one top-level field. Unknown ones, such as Triton's
// "model_name" or sequence parameters, are skipped as Triton skips them.
func (v *v2Decoder) member(key []byte) *Error {
	d := &v.d
	k := string(key)
	switch k {
	case "id", "parameters", "inputs", "outputs":
		if err := v.once(k); err != nil {
			return err
		}
	}
	switch k {
	case "id":
		id, err := v.string("id")
		v.req.id, v.req.hasID = id, true
		return err
	case "parameters":
		return v.parameters("parameters", func(p string) *Error {
			if p == "binary_data_output" {
				var err *Error
				v.binaryAll, err = v.bool("parameters.binary_data_output")
				return err
			}
			return d.skip()
		})
	case "inputs":
		return v.array("inputs", v.input)
	case "outputs":
		return v.array("outputs", v.output)
	}
	return d.skip()
}

// input reads one input object. Its data is read as soon as name, datatype
// and shape are known and checked, which with every client seen so far is
// where "data" comes; otherwise it is skipped and read after the object.
func (v *v2Decoder) input(pos int) *Error {
	in := &v2Input{pos: pos, index: -1, binSize: -1, dataAt: -1, has: map[string]bool{}}
	d := &v.d
	field := fmt.Sprintf("inputs[%d]", pos)
	err := d.object(func(key []byte) *Error {
		k := string(key)
		switch k {
		case "name", "datatype", "shape", "parameters", "data":
			if in.has[k] {
				return BadRequest("%s: duplicate field %q", v.inputField(in), k)
			}
			in.has[k] = true
		}
		var err *Error
		switch k {
		case "name":
			in.name, err = v.string(field + ".name")
		case "datatype":
			in.datatype, err = v.string(field + ".datatype")
		case "shape":
			in.shape, err = v.shape(in)
		case "parameters":
			err = v.parameters(field+".parameters", func(p string) *Error { return v.inputParameter(in, p) })
		case "data":
			if in.has["name"] && in.has["datatype"] && in.has["shape"] {
				if err := v.check(in); err != nil {
					return err
				}
				return v.data(in, d)
			}
			in.dataAt, in.dataDep = d.i, d.depth
			err = d.skip()
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, k := range []string{"name", "datatype", "shape"} {
		if !in.has[k] {
			return BadRequest("%s: missing %q", v.inputField(in), k)
		}
	}
	if in.index < 0 {
		if err := v.check(in); err != nil {
			return err
		}
	}
	switch {
	case in.has["data"] && in.binSize >= 0:
		return BadRequest("input '%s' must set only one of 'data' and 'binary_data_size' in 'parameters', but sets both", in.name)
	case in.binSize >= 0:
		v.binaries = append(v.binaries, in)
	case !in.has["data"]:
		return BadRequest("input '%s' must set one of 'data' and 'binary_data_size' in 'parameters', but sets neither", in.name)
	case in.dataAt >= 0:
		late := decoder{b: d.b, i: in.dataAt, depth: in.dataDep}
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

func (v *v2Decoder) inputParameter(in *v2Input, p string) *Error {
	switch p {
	case "binary_data_size":
		n, err := v.count(fmt.Sprintf("%s: binary_data_size", v.inputField(in)))
		in.binSize = n
		return err
	case "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset":
		return BadRequest("%s: the shared-memory extension is not supported; send the data as JSON or binary", v.inputField(in))
	}
	return v.d.skip()
}

// check matches an input's name, datatype and shape against the model,
// with Triton's wording.
func (v *v2Decoder) check(in *v2Input) *Error {
	i := v.sig.Input(in.name)
	if i < 0 {
		return BadRequest("unexpected inference input '%s' for model '%s'", in.name, v.m.Name)
	}
	if v.req.inputs[i].Data != nil || slices.ContainsFunc(v.binaries, func(b *v2Input) bool { return b.index == i }) {
		return BadRequest("input '%s' appears twice", in.name)
	}
	spec := &v.sig.Inputs[i]
	if want := spec.DType.V2Name(); in.datatype != want {
		if dt, ok := runtime.ParseDType(in.datatype); !ok || dt.V2Name() != in.datatype {
			return BadRequest("input '%s': unknown datatype '%s'", in.name, in.datatype)
		}
		return BadRequest("inference input '%s' data-type is '%s', but model '%s' expects '%s'", in.name, in.datatype, v.m.Name, want)
	}
	fits := len(in.shape) == len(spec.Shape)
	for k := 0; fits && k < len(in.shape); k++ {
		fits = spec.Shape[k] < 0 || spec.Shape[k] == in.shape[k]
	}
	if !fits {
		return BadRequest("unexpected shape for input '%s' for model '%s'. Expected %s, got %s",
			in.name, v.m.Name, runtime.FormatShape(spec.Shape), runtime.FormatShape(in.shape))
	}
	if mb := v.m.Config.MaxBatchSize; mb > 0 && len(spec.Shape) > 0 && spec.Shape[0] < 0 && in.shape[0] > int64(mb) {
		return BadRequest("inference request batch-size must be <= %d for '%s', input '%s' has %d", mb, v.m.Name, in.name, in.shape[0])
	}
	in.index = i
	return nil
}

// data reads the JSON data of a checked input, flat or nested as its shape.
func (v *v2Decoder) data(in *v2Input, d *decoder) *Error {
	spec := &v.sig.Inputs[in.index]
	n := runtime.NumElements(in.shape) // fits: shape refused more elements than the body has bytes
	if d.next() != '[' {
		return d.mismatch(v.inputField(in)+": data", "an array")
	}
	col := newColumn(spec.DType)
	col.reserve(n)
	// The walk checks nesting against the shape; flat data is checked as
	// one dimension and counted below.
	ws := runtime.TensorSpec{Name: in.name, DType: spec.DType, Shape: in.shape}
	switch d.firstElement() {
	case '[':
	case ']':
		ws.Shape = []int64{0}
	default:
		ws.Shape = []int64{-1}
	}
	var w walk
	w.reset(&ws, false)
	if err := col.array(d, &w); err != nil {
		return err
	}
	t := col.tensor(spec.DType, in.shape)
	if got := t.Len(); got != n {
		return BadRequest("input '%s': shape %s has %d elements, but data has %d", in.name, runtime.FormatShape(in.shape), n, got)
	}
	v.req.inputs[in.index] = t
	return nil
}

// binary decodes the inputs sent as binary data, which follow the JSON in
// the order the inputs are listed.
func (v *v2Decoder) binary(raw []byte) *Error {
	off := 0
	for _, in := range v.binaries {
		if in.binSize > int64(len(raw)-off) {
			return BadRequest("unexpected size for input '%s', expecting %d additional bytes for model '%s'", in.name, in.binSize-int64(len(raw)-off), v.m.Name)
		}
		end := off + int(in.binSize)
		t, err := decodeBinary(v.sig.Inputs[in.index].DType, in.shape, raw[off:end])
		if err != nil {
			return BadRequest("input '%s': %v", in.name, err)
		}
		v.req.inputs[in.index] = t
		off = end
	}
	if off != len(raw) {
		return BadRequest("unexpected additional input data for model '%s': %d bytes after the last binary input", v.m.Name, len(raw)-off)
	}
	return nil
}

// complete reports the inputs the request left out.
func (v *v2Decoder) complete() *Error {
	var missing []string
	for i, t := range v.req.inputs {
		if t.Data == nil {
			missing = append(missing, v.sig.Inputs[i].Name)
		}
	}
	if missing != nil {
		return BadRequest("expected %d inputs but got %d inputs for model '%s'; missing input(s) %s",
			len(v.sig.Inputs), len(v.sig.Inputs)-len(missing), v.m.Name, quoteList(missing))
	}
	return nil
}

func (v *v2Decoder) output(pos int) *Error {
	o := v2Requested{}
	field := fmt.Sprintf("outputs[%d]", pos)
	var hasName bool
	err := v.d.object(func(key []byte) *Error {
		var err *Error
		switch string(key) {
		case "name":
			hasName = true
			o.name, err = v.string(field + ".name")
		case "parameters":
			err = v.parameters(field+".parameters", func(p string) *Error { return v.outputParameter(&o, field, p) })
		default:
			err = v.d.skip()
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
		b, err := v.bool(field + ".parameters.binary_data")
		o.binary = &b
		return err
	case "classification":
		n, err := v.count(field + ".parameters.classification")
		if err == nil && n == 0 {
			return BadRequest("%s.parameters.classification must be at least 1", field)
		}
		o.classes = int(min(n, 1<<31)) // more than any output has classes
		return err
	case "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset":
		return BadRequest("%s: the shared-memory extension is not supported", field)
	}
	return v.d.skip()
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

// Small readers. Each consumes one value at d.i and names field in errors.

func (v *v2Decoder) string(field string) (string, *Error) {
	d := &v.d
	if d.next() != '"' {
		return "", d.mismatch(field, "a string")
	}
	s, err := d.str()
	return string(s), err
}

func (v *v2Decoder) bool(field string) (bool, *Error) {
	v.d.next()
	b, err := leafBool(&v.d, runtime.Bool)
	if err != nil {
		return false, named(err, field)
	}
	return b, nil
}

// count reads a non-negative integer.
func (v *v2Decoder) count(field string) (int64, *Error) {
	d := &v.d
	d.next()
	text, mag, neg, err := d.integer(runtime.Int64)
	switch {
	case err != nil:
		return 0, named(err, field)
	case neg && mag != 0, mag > 1<<62:
		return 0, BadRequest("%s: %s is not a valid size", field, clip(text))
	}
	return int64(mag), nil
}

// shape reads an input's shape, refusing one with more elements than the
// request has bytes before anything is allocated for it.
func (v *v2Decoder) shape(in *v2Input) ([]int64, *Error) {
	var shape []int64
	n := int64(1)
	err := v.array(v.inputField(in)+": shape", func(k int) *Error {
		if k == maxDepth {
			return BadRequest("%s: shape has more than %d dimensions", v.inputField(in), maxDepth)
		}
		dim, err := v.count(fmt.Sprintf("%s: shape[%d]", v.inputField(in), k))
		if err != nil {
			return err
		}
		if dim != 0 && n > int64(v.limit)/dim {
			n = int64(v.limit) + 1
		} else {
			n *= dim
		}
		shape = append(shape, dim)
		return nil
	})
	if err == nil && n > int64(v.limit) {
		err = BadRequest("%s: shape %s has more elements than the %d-byte request can carry", v.inputField(in), runtime.FormatShape(shape), v.limit)
	}
	if shape == nil {
		shape = []int64{}
	}
	return shape, err
}

// array reads a JSON array, calling elem for each element at d.i.
func (v *v2Decoder) array(field string, elem func(i int) *Error) *Error {
	d := &v.d
	if d.next() != '[' {
		return d.mismatch(field, "an array")
	}
	if err := d.open(); err != nil {
		return err
	}
	if d.next() == ']' {
		d.close()
		return nil
	}
	for i := 0; ; i++ {
		d.next()
		if err := elem(i); err != nil {
			return err
		}
		if more, err := d.more(']'); !more {
			return err
		}
	}
}

// parameters reads a parameters object, calling param for each key at its value.
func (v *v2Decoder) parameters(field string, param func(key string) *Error) *Error {
	d := &v.d
	if d.next() != '{' {
		return d.mismatch(field, "an object")
	}
	return d.object(func(key []byte) *Error { return param(string(key)) })
}
