package v1

// The predict body grammar. It reads the JSON once, front to back, with
// the jsontensor codec, which appends every number straight into the
// typed buffer of the input it belongs to, inferring and checking the
// shape as it goes. A body is one of
//
//	{"sepal_length": 5.1, ...}                    named features, one row
//	{"instances": [{"sepal_length": 5.1, ...}]}   named features, N rows
//	{"instances": [[5.1, 3.5, 1.4, 0.2], ...]}    rows of a single input
//	{"inputs": {"X": [[...]], "ids": [[1, 2]]}}   every input by name
//
// and any of them may add "outputs": ["NAME", ...], the outputs to return.
//
// Validation stops at the first problem (except missing features or
// inputs, which are all listed), so before a 422 goes out the whole body is
// scanned once more for syntax: malformed JSON anywhere is a 400, whatever
// came first.
//
// The grammar's errors are the codec's own (*jsontensor.Error), as are
// its two kinds, malformed JSON and JSON that does not fit the model.
// What every protocol checks (missing inputs, the batch limit, batches
// that agree) the core checks after decoding (handlers/inference).

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// decodePredict parses body for m and returns one tensor per model input,
// in Signature.Inputs order (Data nil for one the body left out), and the
// body's form. Errors are *jsontensor.Error. Release what it returns
// (predictBody.release) once nothing reads its tensors.
func decodePredict(body []byte, m *runtime.Model) (predictBody, form, error) {
	r := requests.Get().(*request) // zeroed when it was put back
	r.m, r.features, r.hold = m, m.Config.Features, holds.Get().(*inputsHold)
	defer func() {
		*r = request{} // holds nothing of this request's while idle
		requests.Put(r)
	}()
	r.d.Reset(body)
	out, err := r.decode()
	if err != nil {
		r.hold.put()
		if !err.Syntax {
			if serr := jsontensor.CheckSyntax(body); serr != nil {
				return predictBody{}, r.form, serr
			}
		}
		return predictBody{}, r.form, err
	}
	req := predictBody{inputs: out, hold: r.hold}
	if r.outputs != nil {
		req.outputs = *r.outputs
	}
	return req, r.form, nil
}

// predictBody is what a predict body asks for: its inputs, in the model's
// Signature.Inputs order, and the outputs it names ("outputs"), none for
// every one.
type predictBody struct {
	inputs  []tensor.Tensor
	outputs []string
	hold    *inputsHold // nil for inputs made otherwise (images)
}

// lease is where the answer's outputs are held until it is encoded: in
// the request's hold, or for inputs made otherwise a Lease of its own.
func (b *predictBody) lease() *runtime.Lease {
	if b.hold != nil {
		return &b.hold.outputs
	}
	return new(runtime.Lease)
}

// release gives back the memory of the request's inputs, their buffers
// and the slice and shapes that hold them, once nothing reads them: the
// answer is written.
func (b *predictBody) release() {
	jsontensor.Release(b.inputs)
	b.hold.put()
}

// inputsHold is the memory of a request's decoded inputs that outlives the
// decoder (which goes back to its pool when decodePredict returns), kept
// from request to request: the inputs' slice, and the named features'
// shape.
type inputsHold struct {
	out   []tensor.Tensor
	shape [2]int64
	// outputs holds the answer's outputs where they are the model's own
	// memory (inference.Request.Lease): here, a Lease costs no allocation.
	outputs runtime.Lease
}

var holds = sync.Pool{New: func() any { return new(inputsHold) }}

// inputs is the hold's slice of n empty inputs.
func (h *inputsHold) inputs(n int) []tensor.Tensor {
	if cap(h.out) < n {
		h.out = make([]tensor.Tensor, n)
	}
	h.out = h.out[:n]
	clear(h.out)
	return h.out
}

// featuresShape is the shape [rows, n] of the named features' tensor, in
// the hold, capped so that an append copies it.
func (h *inputsHold) featuresShape(rows, n int) []int64 {
	h.shape = [2]int64{int64(rows), int64(n)}
	return h.shape[:2:2]
}

func (h *inputsHold) put() {
	if h != nil {
		clear(h.out) // let the tensors go while idle
		holds.Put(h)
	}
}

// form is which of the body forms a request turned out to use.
type form int

const (
	formNone form = iota
	formInputs
	formInstances
	formFeatures
)

// field names an input in the request's terms: rows came as "instances".
func (f form) field(input string) string {
	if f == formInstances || f == formFeatures {
		return "instances"
	}
	return "inputs." + input
}

// requests recycles the decoder's per-request struct, nearly 900 bytes of
// which hold pointers, which the decode's callbacks make escape: one
// allocation per request otherwise, zeroed and scanned. Nothing decoded
// refers to it (the tensors and their slice are in an inputsHold, the
// outputs asked for are allocated apart), so it goes back when
// decodePredict returns.
var requests = sync.Pool{New: func() any { return new(request) }}

type request struct {
	d        jsontensor.Decoder
	hold     *inputsHold // where the inputs go
	m        *runtime.Model
	features []string          // ordered column names of the model's single rank-2 numeric input, nil if none
	named    *inference.Inputs // the inputs "inputs" named so far; nil until it comes
	out      []tensor.Tensor
	form     form
	w        jsontensor.Walk

	// Named features: the input they fill, its buffer, which features the
	// current object has set, and an index by name built only when a
	// client sends many features out of order.
	fin    int
	fcol   jsontensor.Column
	fseen  []bool
	nseen  int
	fsmall [64]bool
	fmap   map[string]int

	// outputs is "outputs", the names of the outputs asked for; nil
	// until it comes.
	outputs *[]string
}

func (r *request) decode() ([]tensor.Tensor, *jsontensor.Error) {
	d := &r.d
	switch c := d.Next(); {
	case d.AtEnd():
		return nil, jsontensor.Malformed("empty body")
	case c != '{':
		if k := jsontensor.KindOf(c); k != "" {
			return nil, jsontensor.Invalid("body", "expected a JSON object, got %s", k)
		}
		return nil, d.Fail("a JSON object")
	}
	r.out = r.hold.inputs(len(r.m.Signature.Inputs))
	if err := d.Object(r.member); err != nil {
		return nil, err
	}
	if !d.AtEnd() {
		return nil, d.Fail("end of input after the top-level object")
	}
	return r.finish()
}

// member reads one top-level field.
func (r *request) member(key []byte) *jsontensor.Error {
	switch string(key) {
	case "inputs":
		if err := r.setForm(formInputs, key); err != nil {
			return err
		}
		return r.inputs()
	case "instances":
		if err := r.setForm(formInstances, key); err != nil {
			return err
		}
		return r.instances()
	}
	// "outputs" selects outputs, unless it is one of the model's features.
	if string(key) == "outputs" && (r.features == nil || r.feature(key, r.nseen) < 0) {
		return r.outputNames()
	}
	if r.features != nil {
		if k := r.feature(key, r.nseen); k >= 0 {
			if err := r.setForm(formFeatures, key); err != nil {
				return err
			}
			if r.fcol == nil {
				r.beginFeatures()
				r.fcol.Grow(len(r.features))
			}
			return r.featureValue(-1, k, 0)
		}
	}
	field := string(key)
	if field == "" {
		field = `""` // a field nobody could read in an error otherwise
	}
	return jsontensor.Invalid(field, "unknown field; expected %s", r.accepted())
}

func (r *request) setForm(f form, key []byte) *jsontensor.Error {
	switch r.form {
	case formNone:
		r.form = f
		return nil
	case f:
		if f == formFeatures {
			return nil
		}
		return jsontensor.Invalid(string(key), "duplicate field")
	case formFeatures:
		return jsontensor.Invalid(string(key), "cannot be combined with named features; send exactly one of %s", r.accepted())
	case formInputs:
		return jsontensor.Invalid(string(key), "cannot be combined with \"inputs\"; send exactly one of %s", r.accepted())
	}
	return jsontensor.Invalid(string(key), "cannot be combined with \"instances\"; send exactly one of %s", r.accepted())
}

// accepted lists the top-level forms, for messages.
func (r *request) accepted() string {
	if r.features == nil {
		return `"inputs" or "instances"`
	}
	return `"inputs", "instances" or the features ` + tensor.QuoteNames(r.features)
}

func (r *request) finish() ([]tensor.Tensor, *jsontensor.Error) {
	switch r.form {
	case formNone:
		return nil, jsontensor.Invalid("body", "expected an object with %s", r.accepted())
	case formFeatures:
		if err := r.missingFeatures(-1); err != nil {
			return nil, err
		}
		r.out[r.fin] = r.fcol.Tensor(r.hold.featuresShape(1, len(r.features)))
	}
	return r.out, nil
}

// outputNames reads "outputs": ["NAME", ...]. Whether each names an
// output of the model is the core's to say.
func (r *request) outputNames() *jsontensor.Error {
	d := &r.d
	if r.outputs != nil {
		return jsontensor.Invalid("outputs", "duplicate field")
	}
	r.outputs = new([]string)
	if c := d.Next(); c != '[' {
		return d.Mismatch("outputs", "an array of output names")
	}
	return d.Elements(func(i int) *jsontensor.Error {
		field := "outputs[" + strconv.Itoa(i) + "]"
		if d.Next() != '"' {
			return d.Mismatch(field, "an output name")
		}
		name, err := d.Str()
		if err != nil {
			return err
		}
		*r.outputs = append(*r.outputs, string(name))
		return nil
	})
}

// inputs reads {"NAME": nested arrays, ...}.
func (r *request) inputs() *jsontensor.Error {
	d := &r.d
	if c := d.Next(); c != '{' {
		return d.Mismatch("inputs", "an object of named inputs")
	}
	r.named = inference.NewInputs(r.m)
	return d.Object(func(name []byte) *jsontensor.Error {
		i, err := r.named.Name(string(name))
		if err != nil {
			return jsontensor.Invalid("inputs."+string(name), "%s", inference.From(err).Message)
		}
		return r.tensor(i, false)
	})
}

func (r *request) inputNames() []string { return tensor.Names(r.m.Signature.Inputs) }

// instances reads {"instances": [...]}: objects of named features, or rows
// of the model's only input.
func (r *request) instances() *jsontensor.Error {
	if r.features != nil && r.d.FirstElement() == '{' {
		return r.featureInstances()
	}
	switch {
	case len(r.m.Signature.Inputs) != 1:
		return jsontensor.Invalid("instances", `the model has %d inputs (%s); send each by name as {"inputs": {"NAME": value, ...}}`,
			len(r.m.Signature.Inputs), tensor.QuoteNames(r.inputNames()))
	case len(r.m.Signature.Inputs[0].Shape) == 0:
		return jsontensor.Invalid("instances", `input %q is a scalar and has no batch; send {"inputs": {%q: value}}`,
			r.m.Signature.Inputs[0].Name, r.m.Signature.Inputs[0].Name)
	}
	return r.tensor(0, true)
}

// tensor reads input i as nested arrays; rows says they came as "instances".
func (r *request) tensor(i int, rows bool) *jsontensor.Error {
	spec := &r.m.Signature.Inputs[i]
	prefix := "inputs." // errors name the tensor inputs.NAME, or, for rows, instances
	if rows {
		prefix = "instances"
	}
	col := jsontensor.NewColumn(spec.DType)
	if col == nil {
		field := prefix
		if !rows {
			field += spec.Name
		}
		return jsontensor.Invalid(field, "input of type %v cannot be sent as JSON", spec.DType)
	}
	r.w.Reset(spec, prefix, rows)
	// Room for one row (the whole tensor for rank 0) up front; the first row
	// then tells how many more are likely to follow.
	row := 1
	for _, dim := range spec.Shape[min(1, len(spec.Shape)):] {
		row *= int(max(dim, 0))
	}
	col.Reserve(&r.d, row)
	if err := col.Nested(&r.d, &r.w); err != nil {
		return err
	}
	r.out[i] = col.Tensor(r.w.Shape())
	return nil
}

// beginFeatures makes the buffer of the input that named features fill:
// the model's only input, of shape [-1, len(features)] and numeric, as
// runtime checks when it loads a model with features.
func (r *request) beginFeatures() {
	r.fin = 0
	r.fcol = jsontensor.NewColumn(r.m.Signature.Inputs[0].DType)
	if n := len(r.features); n <= len(r.fsmall) {
		r.fseen = r.fsmall[:n]
	} else {
		r.fseen = make([]bool, n)
	}
}

// featureInstances reads {"instances": [{features}, ...]}.
func (r *request) featureInstances() *jsontensor.Error {
	r.beginFeatures()
	d := &r.d
	spec := &r.m.Signature.Inputs[r.fin]
	nf := len(r.features)
	// instances() saw that the first element is an object: the array is not empty.
	n, err := d.Rows(r.fcol, nf, func(row int) *jsontensor.Error {
		if d.Next() != '{' {
			return d.Mismatch(fmt.Sprintf("instances[%d]", row), "an object of named features")
		}
		r.fcol.Grow(nf)
		clear(r.fseen)
		r.nseen = 0
		if err := d.Object(func(key []byte) *jsontensor.Error { return r.instanceFeature(row, key) }); err != nil {
			return err
		}
		return r.missingFeatures(row)
	})
	if err != nil {
		return err
	}
	if spec.Shape[0] >= 0 && int64(n) != spec.Shape[0] {
		return jsontensor.Invalid("instances", "dimension 0 must be %d, got %d", spec.Shape[0], n)
	}
	r.out[r.fin] = r.fcol.Tensor(r.hold.featuresShape(n, nf))
	return nil
}

func (r *request) instanceFeature(row int, key []byte) *jsontensor.Error {
	k := r.feature(key, r.nseen)
	if k < 0 {
		return jsontensor.Invalid(fmt.Sprintf("instances[%d].%s", row, key), "unknown feature; expected one of %s", tensor.QuoteNames(r.features))
	}
	return r.featureValue(row, k, row*len(r.features))
}

// featureValue reads the value of feature k into element base+k; row is -1
// for the top-level object, which names fields by the bare feature name.
func (r *request) featureValue(row, k, base int) *jsontensor.Error {
	if r.fseen[k] {
		return jsontensor.Invalid(featureField(row, r.features[k]), "duplicate feature")
	}
	r.fseen[k] = true
	r.nseen++
	if err := r.fcol.At(&r.d, base+k); err != nil {
		return err.Named(featureField(row, r.features[k]))
	}
	return nil
}

func (r *request) missingFeatures(row int) *jsontensor.Error {
	var missing []jsontensor.Detail
	for k, seen := range r.fseen {
		if !seen {
			missing = append(missing, jsontensor.Detail{Field: featureField(row, r.features[k]), Message: "missing feature"})
		}
	}
	if missing != nil {
		return jsontensor.InvalidFields(missing)
	}
	return nil
}

func featureField(row int, name string) string {
	if row < 0 {
		return name
	}
	return fmt.Sprintf("instances[%d].%s", row, name)
}

// feature returns the column of the named feature, or -1. Clients almost
// always send features in the model's order, so the guess is checked first
// and a map is only built for the rest.
func (r *request) feature(key []byte, guess int) int {
	fs := r.features
	if guess < len(fs) && fs[guess] == string(key) {
		return guess
	}
	if len(fs) <= 16 {
		for k, f := range fs {
			if f == string(key) {
				return k
			}
		}
		return -1
	}
	if r.fmap == nil {
		r.fmap = make(map[string]int, len(fs))
		for k, f := range fs {
			r.fmap[f] = k
		}
	}
	if k, ok := r.fmap[string(key)]; ok {
		return k
	}
	return -1
}
