package handlers

// The predict body decoder. It reads the JSON once, front to back, and
// appends every number straight into the typed buffer of the input it
// belongs to, inferring and checking the shape as it goes: no
// encoding/json, no []any, no per-row slices. A body is one of
//
//	{"sepal_length": 5.1, ...}                    named features, one row
//	{"instances": [{"sepal_length": 5.1, ...}]}   named features, N rows
//	{"instances": [[5.1, 3.5, 1.4, 0.2], ...]}    rows of a single input
//	{"inputs": {"X": [[...]], "ids": [[1, 2]]}}   every input by name
//
// Validation stops at the first problem (except missing features or
// inputs, which are all listed), so before a 422 goes out the whole body is
// scanned once more for syntax: malformed JSON anywhere is a 400, whatever
// came first.

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// DecodeOptions is what the decoder needs to know about a model beyond its signature.
type DecodeOptions struct {
	Features []string // ordered column names of the model's single rank-2 numeric input, nil if none
	MaxBatch int      // 0 = unlimited; else a batch (dim 0 of a batched input) larger than this is a 422
}

// maxDepth bounds the nesting of objects and arrays, so that a hostile body
// cannot exhaust the stack of the recursive parts of the decoder. The
// top-level object and "inputs" take two levels, which leaves tensors of
// rank 30 expressible.
const maxDepth = 32

// DecodePredict parses body and returns one tensor per model input, in
// sig.Inputs order. Errors are always *Error: 400 for malformed JSON, 422
// for JSON that does not fit the model.
func DecodePredict(body []byte, sig *tensor.Signature, opt DecodeOptions) ([]tensor.Tensor, error) {
	r := request{d: decoder{b: body}, sig: sig, opt: opt}
	out, err := r.decode()
	if err != nil {
		if err.Kind != KindBadRequest {
			if serr := checkSyntax(body); serr != nil {
				return nil, serr
			}
		}
		return nil, err
	}
	return out, nil
}

// form is which of the body forms a request turned out to use.
type form int

const (
	formNone form = iota
	formInputs
	formInstances
	formFeatures
)

type request struct {
	d    decoder
	sig  *tensor.Signature
	opt  DecodeOptions
	out  []tensor.Tensor
	form form
	w    walk

	// Named features: the input they fill, its buffer, which features the
	// current object has set, and an index by name built only when a
	// client sends many features out of order.
	fin    int
	fcol   column
	fseen  []bool
	nseen  int
	fsmall [64]bool
	fmap   map[string]int
}

func (r *request) decode() ([]tensor.Tensor, *Error) {
	d := &r.d
	switch c := d.next(); {
	case d.i == len(d.b):
		return nil, BadRequest("empty body")
	case c != '{':
		if k := kindOf(c); k != "" {
			return nil, Invalid("body", "expected a JSON object, got %s", k)
		}
		return nil, d.fail("a JSON object")
	}
	r.out = make([]tensor.Tensor, len(r.sig.Inputs))
	if err := d.object(r.member); err != nil {
		return nil, err
	}
	if d.next(); d.i != len(d.b) {
		return nil, d.fail("end of input after the top-level object")
	}
	return r.finish()
}

// member reads one top-level field.
func (r *request) member(key []byte) *Error {
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
	if r.opt.Features != nil {
		if k := r.feature(key, r.nseen); k >= 0 {
			if err := r.setForm(formFeatures, key); err != nil {
				return err
			}
			if r.fcol == nil {
				r.beginFeatures()
				r.fcol.grow(len(r.opt.Features))
			}
			return r.featureValue(-1, k, 0)
		}
	}
	field := string(key)
	if field == "" {
		field = `""` // a field nobody could read in an error otherwise
	}
	return Invalid(field, "unknown field; expected %s", r.accepted())
}

func (r *request) setForm(f form, key []byte) *Error {
	switch r.form {
	case formNone:
		r.form = f
		return nil
	case f:
		if f == formFeatures {
			return nil
		}
		return Invalid(string(key), "duplicate field")
	case formFeatures:
		return Invalid(string(key), "cannot be combined with named features; send exactly one of %s", r.accepted())
	case formInputs:
		return Invalid(string(key), "cannot be combined with \"inputs\"; send exactly one of %s", r.accepted())
	}
	return Invalid(string(key), "cannot be combined with \"instances\"; send exactly one of %s", r.accepted())
}

// accepted lists the top-level forms, for messages.
func (r *request) accepted() string {
	if r.opt.Features == nil {
		return `"inputs" or "instances"`
	}
	return `"inputs", "instances" or the features ` + quoteList(r.opt.Features)
}

func (r *request) finish() ([]tensor.Tensor, *Error) {
	var missing []Detail
	switch r.form {
	case formNone:
		return nil, Invalid("body", "expected an object with %s", r.accepted())
	case formFeatures:
		if err := r.missingFeatures(-1); err != nil {
			return nil, err
		}
		r.out[r.fin] = r.fcol.tensor(r.sig.Inputs[r.fin].DType, []int64{1, int64(len(r.opt.Features))})
	}
	// Only "inputs" can leave inputs out, but a model that has features
	// and other inputs besides would too: it is not served half-filled.
	for i := range r.out {
		if r.out[i].Data == nil {
			missing = append(missing, Detail{Field: "inputs." + r.sig.Inputs[i].Name, Message: "missing input"})
		}
	}
	if missing != nil {
		return nil, &Error{Kind: KindValidation, Message: "validation failed", Details: missing}
	}
	return r.out, nil
}

// inputs reads {"NAME": nested arrays, ...}.
func (r *request) inputs() *Error {
	d := &r.d
	if c := d.next(); c != '{' {
		return d.mismatch("inputs", "an object of named inputs")
	}
	return d.object(func(name []byte) *Error {
		i := r.sig.Input(string(name))
		switch {
		case i < 0:
			return Invalid("inputs."+string(name), "unknown input; expected one of %s", quoteList(r.inputNames()))
		case r.out[i].Data != nil:
			return Invalid("inputs."+string(name), "duplicate input")
		}
		return r.tensor(i, false)
	})
}

func (r *request) inputNames() []string {
	names := make([]string, len(r.sig.Inputs))
	for k, in := range r.sig.Inputs {
		names[k] = in.Name
	}
	return names
}

// instances reads {"instances": [...]}: objects of named features, or rows
// of the model's only input.
func (r *request) instances() *Error {
	if r.opt.Features != nil && r.d.firstElement() == '{' {
		return r.featureInstances()
	}
	switch {
	case len(r.sig.Inputs) != 1:
		return Invalid("instances", `the model has %d inputs (%s); send each by name as {"inputs": {"NAME": value, ...}}`,
			len(r.sig.Inputs), quoteList(r.inputNames()))
	case len(r.sig.Inputs[0].Shape) == 0:
		return Invalid("instances", `input %q is a scalar and has no batch; send {"inputs": {%q: value}}`,
			r.sig.Inputs[0].Name, r.sig.Inputs[0].Name)
	}
	return r.tensor(0, true)
}

// tensor reads input i as nested arrays; rows says they came as "instances".
func (r *request) tensor(i int, rows bool) *Error {
	spec := &r.sig.Inputs[i]
	r.w.reset(spec, rows)
	col := newColumn(spec.DType)
	if col == nil {
		return Invalid(r.w.field(), "input of type %v cannot be sent as JSON", spec.DType)
	}
	if len(spec.Shape) > 0 && spec.Shape[0] < 0 {
		r.w.maxBatch = r.opt.MaxBatch
	}
	// Room for one row (the whole tensor for rank 0) up front; the first row
	// then tells how many more are likely to follow.
	row := 1
	for _, dim := range spec.Shape[min(1, len(spec.Shape)):] {
		row *= int(max(dim, 0))
	}
	col.reserve(min(row, len(r.d.b)/2+1))
	if err := col.array(&r.d, &r.w); err != nil {
		return err
	}
	r.out[i] = col.tensor(spec.DType, r.w.shape())
	return nil
}

// beginFeatures makes the buffer of the input that named features fill:
// the model's only input, of shape [-1, len(features)] and numeric, as
// runtime checks when it loads a model with features.
func (r *request) beginFeatures() {
	r.fin = 0
	r.fcol = newColumn(r.sig.Inputs[0].DType)
	if n := len(r.opt.Features); n <= len(r.fsmall) {
		r.fseen = r.fsmall[:n]
	} else {
		r.fseen = make([]bool, n)
	}
}

// featureInstances reads {"instances": [{features}, ...]}.
func (r *request) featureInstances() *Error {
	r.beginFeatures()
	d := &r.d
	spec := &r.sig.Inputs[r.fin]
	nf := len(r.opt.Features)
	maxBatch := 0
	if spec.Shape[0] < 0 {
		maxBatch = r.opt.MaxBatch
	}
	// instances() saw that the first element is an object: the array is not empty.
	d.next()
	if err := d.open(); err != nil {
		return err
	}
	n := 0
	for {
		start := d.i
		if d.next() != '{' {
			return d.mismatch(fmt.Sprintf("instances[%d]", n), "an object of named features")
		}
		r.fcol.grow(nf)
		clear(r.fseen)
		r.nseen = 0
		if err := d.object(func(key []byte) *Error { return r.instanceFeature(n, key) }); err != nil {
			return err
		}
		if err := r.missingFeatures(n); err != nil {
			return err
		}
		if n++; n == 1 {
			r.fcol.reserve(nf * estimateRows(len(d.b)-d.i, d.i-start, maxBatch))
		}
		more, err := d.more(']')
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if n == maxBatch {
			return overBatch(d, "instances", n)
		}
	}
	if spec.Shape[0] >= 0 && int64(n) != spec.Shape[0] {
		return Invalid("instances", "dimension 0 must be %d, got %d", spec.Shape[0], n)
	}
	r.out[r.fin] = r.fcol.tensor(spec.DType, []int64{int64(n), int64(nf)})
	return nil
}

func (r *request) instanceFeature(row int, key []byte) *Error {
	k := r.feature(key, r.nseen)
	if k < 0 {
		return Invalid(fmt.Sprintf("instances[%d].%s", row, key), "unknown feature; expected one of %s", quoteList(r.opt.Features))
	}
	return r.featureValue(row, k, row*len(r.opt.Features))
}

// featureValue reads the value of feature k into element base+k; row is -1
// for the top-level object, which names fields by the bare feature name.
func (r *request) featureValue(row, k, base int) *Error {
	if r.fseen[k] {
		return Invalid(featureField(row, r.opt.Features[k]), "duplicate feature")
	}
	r.fseen[k] = true
	r.nseen++
	if err := r.fcol.at(&r.d, r.sig.Inputs[r.fin].DType, base+k); err != nil {
		return named(err, featureField(row, r.opt.Features[k]))
	}
	return nil
}

func (r *request) missingFeatures(row int) *Error {
	var missing []Detail
	for k, seen := range r.fseen {
		if !seen {
			missing = append(missing, Detail{Field: featureField(row, r.opt.Features[k]), Message: "missing feature"})
		}
	}
	if missing != nil {
		return &Error{Kind: KindValidation, Message: "validation failed", Details: missing}
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
	fs := r.opt.Features
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

// estimateRows guesses how many rows a batch has from the size of its
// first one, so that the buffer is allocated about once. The rest of the
// body may be other inputs, so this overestimates, but never beyond a
// small multiple of the body's size.
func estimateRows(left, first, maxBatch int) int {
	rows := 1
	if more := left / (first + 1); more > 0 {
		rows += more + more/16 + 1 // rows vary in length; one short would double the buffer
	}
	if maxBatch > 0 {
		rows = min(rows, maxBatch)
	}
	return rows
}

// overBatch counts the rest of a batch whose first n (the limit) elements
// have been read, without storing them, and reports its size.
func overBatch(d *decoder, field string, n int) *Error {
	limit := n
	for {
		if err := d.skip(); err != nil {
			return err
		}
		n++
		more, err := d.more(']')
		if err != nil {
			return err
		}
		if !more {
			return Invalid(field, "batch of %d exceeds max_batch_size %d", n, limit)
		}
	}
}

// walk is the shape of one tensor as its nested arrays are read: the first
// array at each depth fixes that dimension and every later one must match.
type walk struct {
	spec     *tensor.TensorSpec
	rows     bool // read from "instances": errors name instances, not inputs
	rank     int
	maxBatch int
	dims     [maxDepth]int64 // -1 until the first array at that depth has closed
	idx      [maxDepth]int   // where the reader is, for error fields; kept up to date only above the innermost level
}

func (w *walk) reset(spec *tensor.TensorSpec, rows bool) {
	w.spec, w.rows, w.rank, w.maxBatch = spec, rows, len(spec.Shape), 0
	for k := range min(w.rank, maxDepth) {
		w.dims[k] = -1
	}
}

func (w *walk) field() string {
	if w.rows {
		return "instances"
	}
	return "inputs." + w.spec.Name
}

// path names the element at idx[:depth], e.g. inputs.X[1][3].
func (w *walk) path(depth int) string {
	var b strings.Builder
	b.WriteString(w.field())
	for _, i := range w.idx[:depth] {
		fmt.Fprintf(&b, "[%d]", i)
	}
	return b.String()
}

func (w *walk) shape() []int64 {
	s := make([]int64, w.rank)
	for k := range s {
		if s[k] = w.dims[k]; s[k] < 0 {
			s[k] = max(w.spec.Shape[k], 0) // under an empty array: no elements either way
		}
	}
	return s
}

// closeDim records that an array at depth had n elements.
func (w *walk) closeDim(depth, n int) *Error {
	if want := w.dims[depth]; want >= 0 {
		if want != int64(n) {
			return Invalid(w.path(depth), "expected %d elements, got %d", want, n)
		}
		return nil
	}
	w.dims[depth] = int64(n)
	fixed := w.spec.Shape[depth]
	switch {
	case fixed >= 0 && int64(n) != fixed:
		field := w.field()
		if w.rows {
			field = w.path(depth)
		}
		return Invalid(field, "dimension %d must be %d, got %d", depth, fixed, n)
	case depth == 0 && fixed < 0 && n == 0:
		return Invalid(w.field(), "must not be empty")
	}
	return nil
}

// elementKind is the JSON type of the tensor's elements, as kindOf names it.
func (w *walk) elementKind() string {
	switch w.spec.DType {
	case tensor.String:
		return "a string"
	case tensor.Bool:
		return "a boolean"
	}
	return "a number"
}

// rankErr reports a tensor nested got levels deep instead of rank.
func (w *walk) rankErr(got int) *Error {
	if w.rows {
		return Invalid(w.path(1), "expected rank %d (shape %s) for each instance, got rank %d",
			w.rank-1, tensor.FormatShape(w.spec.Shape[1:]), got-1)
	}
	return Invalid(w.field(), "expected rank %d (shape %s), got rank %d", w.rank, tensor.FormatShape(w.spec.Shape), got)
}

// notArray reports the value at d.i, where an array of depth was due.
func (w *walk) notArray(d *decoder, depth int) *Error {
	k := ""
	if d.i < len(d.b) {
		k = kindOf(d.b[d.i])
	}
	switch {
	case k == "":
		return d.fail("a value")
	case w.dims[depth] < 0 && k == w.elementKind() && !(w.rows && depth == 0):
		// An element where the first array at this depth was due: the
		// tensor itself is too shallow, rather than one element out of line.
		return w.rankErr(depth)
	}
	return Invalid(w.path(depth), "expected an array, got %s", k)
}

// leafErr names a failed element at depth, or reports a rank error when
// the very first element turns out to be an array.
func (w *walk) leafErr(d *decoder, err *Error, depth int, first bool) *Error {
	if first && err.Kind == KindValidation && d.i < len(d.b) && d.b[d.i] == '[' {
		extra := 0
		for i := d.i; i < len(d.b) && extra < maxDepth; i++ {
			if c := d.b[i]; c == '[' {
				extra++
			} else if !isSpace(c) {
				break
			}
		}
		return w.rankErr(depth + extra)
	}
	return named(err, w.path(depth))
}

// column is the typed buffer that one input's elements go into.
type column interface {
	// array reads a tensor written as nested arrays, checking its shape in w.
	array(d *decoder, w *walk) *Error
	// at reads one scalar into element i, which grow has already made.
	at(d *decoder, dt tensor.DType, i int) *Error
	grow(n int)
	reserve(n int)
	tensor(dt tensor.DType, shape []int64) tensor.Tensor
}

// leaf parses the scalar at d.i as an element of type dt.
type leaf[T any] func(d *decoder, dt tensor.DType) (T, *Error)

type buffer[T any] struct {
	data []T
	leaf leaf[T]
}

func newColumn(dt tensor.DType) column {
	switch dt {
	case tensor.Float32, tensor.Float16, tensor.BFloat16:
		return &buffer[float32]{data: float32Bufs.get(), leaf: leafFloat32}
	case tensor.Float64:
		return &buffer[float64]{data: float64Bufs.get(), leaf: leafFloat64}
	case tensor.Int8:
		return &buffer[int8]{leaf: leafSigned[int8]}
	case tensor.Int16:
		return &buffer[int16]{leaf: leafSigned[int16]}
	case tensor.Int32:
		return &buffer[int32]{leaf: leafSigned[int32]}
	case tensor.Int64:
		return &buffer[int64]{data: int64Bufs.get(), leaf: leafSigned[int64]}
	case tensor.Uint8:
		return &buffer[uint8]{leaf: leafUnsigned[uint8]}
	case tensor.Uint16:
		return &buffer[uint16]{leaf: leafUnsigned[uint16]}
	case tensor.Uint32:
		return &buffer[uint32]{leaf: leafUnsigned[uint32]}
	case tensor.Uint64:
		return &buffer[uint64]{leaf: leafUnsigned[uint64]}
	case tensor.Bool:
		return &buffer[bool]{leaf: leafBool}
	case tensor.String:
		return &buffer[string]{leaf: leafString}
	}
	return nil
}

// The dtypes clients send in bulk are decoded into recycled buffers: a
// 32-row MLP request is 100 KB of float32 that would otherwise be fresh
// garbage, zeroed first, on every request. ReleaseInputs returns them.
var (
	float32Bufs bufferPool[float32]
	float64Bufs bufferPool[float64]
	int64Bufs   bufferPool[int64]
)

// maxPooledBytes keeps one huge request from pinning its buffer for good.
const maxPooledBytes = 4 << 20

type bufferPool[T any] struct{ p sync.Pool }

func (p *bufferPool[T]) get() []T {
	if b, ok := p.p.Get().(*[]T); ok {
		return (*b)[:0]
	}
	return nil
}

func (p *bufferPool[T]) put(b []T) {
	if cap(b) == 0 || cap(b)*int(unsafe.Sizeof(b[:1][0])) > maxPooledBytes {
		return
	}
	b = b[:0]
	p.p.Put(&b)
}

// ReleaseInputs recycles the buffers of tensors that DecodePredict
// returned. ONNX Runtime reads them in place, so call it only once nothing
// reads them any more: after Infer has returned.
func ReleaseInputs(ts []tensor.Tensor) {
	for _, t := range ts {
		switch d := t.Data.(type) {
		case []float32:
			float32Bufs.put(d)
		case []float64:
			float64Bufs.put(d)
		case []int64:
			int64Bufs.put(d)
		}
	}
}

func (b *buffer[T]) grow(n int) { b.data = append(b.data, make([]T, n)...) }

func (b *buffer[T]) reserve(n int) {
	if n > cap(b.data) {
		b.data = slices.Grow(b.data, n-len(b.data))
	}
}

func (b *buffer[T]) tensor(dt tensor.DType, shape []int64) tensor.Tensor {
	if b.data == nil {
		b.data = []T{} // empty, but not a nil that could pass for a missing input
	}
	return tensor.Tensor{DType: dt, Shape: shape, Data: b.data}
}

func (b *buffer[T]) at(d *decoder, dt tensor.DType, i int) *Error {
	d.next()
	v, err := b.leaf(d, dt)
	b.data[i] = v
	return err
}

func (b *buffer[T]) array(d *decoder, w *walk) *Error { return b.fill(d, w, 0) }

// fill reads the value at depth of the tensor w describes: an array of
// depth+1 nested levels below it, or a scalar at depth == rank.
func (b *buffer[T]) fill(d *decoder, w *walk, depth int) *Error {
	dt := w.spec.DType
	if depth == w.rank {
		d.next()
		v, err := b.leaf(d, dt)
		if err != nil {
			return w.leafErr(d, err, depth, true)
		}
		b.data = append(b.data, v)
		return nil
	}
	if d.next() != '[' {
		return w.notArray(d, depth)
	}
	if err := d.open(); err != nil {
		return err
	}
	n := 0
	if d.next() == ']' {
		d.close()
		return w.closeDim(depth, 0)
	}
	start := d.i
	for {
		if depth+1 == w.rank {
			// The innermost level, where all the numbers are: kept flat.
			d.next()
			v, err := b.leaf(d, dt)
			if err != nil {
				w.idx[depth] = n
				return w.leafErr(d, err, depth+1, len(b.data) == 0)
			}
			b.data = append(b.data, v)
		} else {
			w.idx[depth] = n
			if err := b.fill(d, w, depth+1); err != nil {
				return err
			}
		}
		n++
		if depth == 0 && n == 1 {
			b.reserve(len(b.data) * estimateRows(len(d.b)-d.i, d.i-start, w.maxBatch))
		}
		if d.i < len(d.b) && d.b[d.i] == ',' {
			d.i++
		} else {
			more, err := d.more(']')
			if err != nil {
				return err
			}
			if !more {
				return w.closeDim(depth, n)
			}
		}
		if depth == 0 && n == w.maxBatch {
			return overBatch(d, w.field(), n)
		}
	}
}

// Leaves. Each parses the scalar at d.i (whitespace already skipped) or
// returns an error without a field, which the caller names.

type signed interface{ int8 | int16 | int32 | int64 }

type unsigned interface {
	uint8 | uint16 | uint32 | uint64
}

// leafFloat32 also serves float16 and bfloat16, which Go holds as float32;
// those are checked against their own, narrower range.
func leafFloat32(d *decoder, dt tensor.DType) (float32, *Error) {
	if err := d.numeric("a number"); err != nil {
		return 0, err
	}
	n := &d.num
	v, ok := n.float32()
	if !ok {
		f, perr := strconv.ParseFloat(unsafeString(n.text), 32)
		if perr != nil {
			return 0, floatRange(n.text, dt)
		}
		v = float32(f)
	}
	if dt != tensor.Float32 && !fitsHalf(v, dt) {
		return 0, floatRange(n.text, dt)
	}
	return v, nil
}

func leafFloat64(d *decoder, dt tensor.DType) (float64, *Error) {
	if err := d.numeric("a number"); err != nil {
		return 0, err
	}
	n := &d.num
	if v, ok := n.float64(); ok {
		return v, nil
	}
	f, perr := strconv.ParseFloat(unsafeString(n.text), 64)
	if perr != nil {
		return 0, floatRange(n.text, dt)
	}
	return f, nil
}

func leafSigned[T signed](d *decoder, dt tensor.DType) (T, *Error) {
	text, mag, neg, err := d.integer(dt)
	if err != nil {
		return 0, err
	}
	limit := uint64(1)<<(dt.Bits()-1) - 1
	if neg {
		limit++ // two's complement reaches one further below zero
	}
	if mag > limit {
		return 0, intRange(text, dt)
	}
	if neg {
		return T(-int64(mag)), nil // wraps correctly for the minimum
	}
	return T(mag), nil
}

func leafUnsigned[T unsigned](d *decoder, dt tensor.DType) (T, *Error) {
	text, mag, neg, err := d.integer(dt)
	if err != nil {
		return 0, err
	}
	if (neg && mag != 0) || mag > uint64(1)<<dt.Bits()-1 {
		return 0, intRange(text, dt)
	}
	return T(mag), nil
}

func leafBool(d *decoder, _ tensor.DType) (bool, *Error) {
	rest := d.b[d.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.i += 4
		return true, nil
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.i += 5
		return false, nil
	}
	return false, d.mismatch("", "true or false")
}

func leafString(d *decoder, _ tensor.DType) (string, *Error) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", d.mismatch("", "a string")
	}
	s, err := d.str()
	return string(s), err
}

// fitsHalf reports whether v stays finite as a float16 or bfloat16, rounding
// to nearest even as runtime's conversion does.
func fitsHalf(v float32, dt tensor.DType) bool {
	a := float32(math.Abs(float64(v)))
	if dt == tensor.Float16 {
		return a < 65520
	}
	return math.Float32bits(a) < 0x7f7f8000
}

func floatRange(text []byte, dt tensor.DType) *Error {
	limit := "3.4028235e+38"
	switch dt {
	case tensor.Float64:
		limit = "1.7976931348623157e+308"
	case tensor.Float16:
		limit = "65504"
	case tensor.BFloat16:
		limit = "3.3895314e+38"
	}
	return Invalid("", "%s is out of range for %v (magnitude at most %s)", clip(text), dt, limit)
}

func intRange(text []byte, dt tensor.DType) *Error {
	if dt.IsSigned() {
		return Invalid("", "%s is out of range for %v (%d to %d)", clip(text), dt, -(int64(1) << (dt.Bits() - 1)), uint64(1)<<(dt.Bits()-1)-1)
	}
	return Invalid("", "%s is out of range for %v (0 to %d)", clip(text), dt, uint64(1)<<dt.Bits()-1)
}

// clip shortens a number echoed in a message; clients can send megabytes of digits.
func clip(text []byte) string {
	if len(text) > 40 {
		return string(text[:37]) + "..."
	}
	return string(text)
}

// named gives a field-less validation error from a leaf its field.
func named(err *Error, field string) *Error {
	if err.Kind == KindValidation && len(err.Details) == 1 && err.Details[0].Field == "" {
		err.Details[0].Field = field
	}
	return err
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// decoder is the JSON tokenizer: a position in the body and the nesting depth.
type decoder struct {
	b       []byte
	i       int
	depth   int
	scratch []byte // the unescaped text of the last string that had escapes
	num     num    // the last number scanned
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDigit(c byte) bool { return c-'0' < 10 }

// next skips whitespace and returns the byte there, 0 at the end.
func (d *decoder) next() byte {
	for d.i < len(d.b) {
		if c := d.b[d.i]; !isSpace(c) {
			return c
		}
		d.i++
	}
	return 0
}

// fail is the 400 for malformed JSON at d.i.
func (d *decoder) fail(want string) *Error {
	got := "end of input"
	if d.i < len(d.b) {
		if c := d.b[d.i]; c >= 0x20 && c < 0x7f {
			got = strconv.QuoteRune(rune(c))
		} else {
			got = fmt.Sprintf("byte 0x%02x", c)
		}
	}
	return BadRequest("malformed JSON at offset %d: expected %s, got %s", d.i, want, got)
}

// mismatch is the 422 for a well-formed value of the wrong JSON type at
// d.i, or the 400 if what is there is no value at all.
func (d *decoder) mismatch(field, want string) *Error {
	if d.i < len(d.b) {
		if k := kindOf(d.b[d.i]); k != "" {
			return Invalid(field, "expected %s, got %s", want, k)
		}
	}
	return d.fail("a value")
}

// kindOf names the JSON type a value starting with c has, "" if none does.
func kindOf(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '[':
		return "an array"
	case c == '{':
		return "an object"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || isDigit(c):
		return "a number"
	}
	return ""
}

// open consumes the '[' or '{' at d.i.
func (d *decoder) open() *Error {
	if d.depth++; d.depth > maxDepth {
		return BadRequest("malformed JSON at offset %d: nested deeper than %d levels", d.i, maxDepth)
	}
	d.i++
	return nil
}

// close consumes the ']' or '}' at d.i.
func (d *decoder) close() {
	d.i++
	d.depth--
}

// more consumes what follows an element of an array or object: true after
// a ',', false after the closing bracket.
func (d *decoder) more(closing byte) (bool, *Error) {
	switch d.next() {
	case ',':
		d.i++
		return true, nil
	case closing:
		d.close()
		return false, nil
	}
	return false, d.fail("',' or '" + string(closing) + "'")
}

// firstElement peeks at the first byte of the first element of the array
// at d.i, 0 if there is none.
func (d *decoder) firstElement() byte {
	i := d.i
	c := d.next()
	if c == '[' {
		d.i++
		c = d.next()
	} else {
		c = 0
	}
	d.i = i
	return c
}

// object reads the object at d.i, calling member for each key with d.i at
// its value, which member must consume.
func (d *decoder) object(member func(key []byte) *Error) *Error {
	if err := d.open(); err != nil {
		return err
	}
	if d.next() == '}' {
		d.close()
		return nil
	}
	for {
		if d.next() != '"' {
			return d.fail("a string key")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.next() != ':' {
			return d.fail("':'")
		}
		d.i++
		if err := member(key); err != nil {
			return err
		}
		more, err := d.more('}')
		if !more {
			return err
		}
	}
}

// skip consumes one value of any kind, checking only its syntax.
func (d *decoder) skip() *Error {
	switch c := d.next(); {
	case c == '{':
		return d.object(func([]byte) *Error { return d.skip() })
	case c == '[':
		if err := d.open(); err != nil {
			return err
		}
		if d.next() == ']' {
			d.close()
			return nil
		}
		for {
			if err := d.skip(); err != nil {
				return err
			}
			if more, err := d.more(']'); !more {
				return err
			}
		}
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || isDigit(c):
		return d.number()
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
			d.i += len(lit)
			return nil
		}
	}
	return d.fail("a value")
}

// checkSyntax returns the 400 for body if it is not well-formed JSON.
func checkSyntax(body []byte) *Error {
	d := decoder{b: body}
	if err := d.skip(); err != nil {
		return err
	}
	if d.next(); d.i != len(d.b) {
		return d.fail("end of input after the top-level value")
	}
	return nil
}

// numeric scans the number at d.i into d.num. Anything else there is a
// mismatch with want.
func (d *decoder) numeric(want string) *Error {
	if d.i < len(d.b) {
		if c := d.b[d.i]; c == '-' || isDigit(c) {
			return d.number()
		}
	}
	return d.mismatch("", want)
}

// num is a scanned JSON number: ±mant × 10^exp when digits <= 19.
type num struct {
	text     []byte
	mant     uint64
	exp      int
	digits   int // significant digits; past 19 mant holds only the first 19
	neg      bool
	integral bool // no fraction, no exponent
}

// number scans the JSON number at d.i, which starts with '-' or a digit,
// into d.num, gathering its digits on the way so that most numbers need no
// second look at the text. (In place: copying a num out costs as much as
// reading one.)
func (d *decoder) number() *Error {
	b, i := d.b, d.i
	start := i
	n := &d.num
	*n = num{}
	if b[i] == '-' {
		n.neg = true
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++ // JSON allows no other leading zero
	case i < len(b) && isDigit(b[i]):
		i = n.gather(b, i)
	default:
		d.i = i
		return d.fail("a digit")
	}
	n.integral = true
	if i < len(b) && b[i] == '.' {
		n.integral = false
		i++
		j := i
		if n.mant == 0 { // 0.000123: zeros before the first digit are not significant
			for i < len(b) && b[i] == '0' {
				i++
			}
		}
		if i = n.gather(b, i); i == j {
			d.i = i
			return d.fail("a digit after '.'")
		}
		n.exp = j - i
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		n.integral = false
		i++
		neg := i < len(b) && b[i] == '-'
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j, e := i, 0
		for ; i < len(b) && isDigit(b[i]); i++ {
			e = min(e*10+int(b[i]-'0'), 1e6) // far beyond any float, and no overflow
		}
		if i == j {
			d.i = i
			return d.fail("a digit in the exponent")
		}
		if neg {
			e = -e
		}
		n.exp += e
	}
	d.i = i
	n.text = b[start:i]
	return nil
}

// gather appends the run of digits at b[i:] to n.mant and returns where it
// ends. Eight digits at a time where it can: a 17-digit float is then three
// steps, not seventeen dependent multiplications.
func (n *num) gather(b []byte, i int) int {
	for n.digits <= 19-8 && len(b)-i >= 8 {
		v, ok := eightDigits(binary.LittleEndian.Uint64(b[i:]))
		if !ok {
			break
		}
		n.mant = n.mant*1e8 + v
		n.digits += 8
		i += 8
	}
	for ; i < len(b) && isDigit(b[i]); i++ {
		if n.digits < 19 {
			n.mant = n.mant*10 + uint64(b[i]-'0')
		}
		n.digits++
	}
	return i
}

// eightDigits returns the value of eight ASCII digits loaded little-endian,
// and false if any of the bytes is not a digit (the SWAR technique of
// simdjson and fast_float).
func eightDigits(v uint64) (uint64, bool) {
	if ((v+0x4646464646464646)|(v-0x3030303030303030))&0x8080808080808080 != 0 {
		return 0, false
	}
	v -= 0x3030303030303030
	v = v*10 + v>>8 // pairs of digits
	v = ((v&0x000000ff000000ff)*0x000f424000000064 + (v>>16&0x000000ff000000ff)*0x0000271000000001) >> 32
	return v, true
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// float32 converts n as strconv.ParseFloat(text, 32) does, and reports
// false when it cannot be sure of the result, for strconv to decide.
//
// mant (up to 19 digits) and one multiplication or division by an exact
// power of ten give a float64 within two of its units of the decimal. Its
// rounding to float32 is then the decimal's own unless the 29 bits float32
// drops are near 1000…0, a midpoint between two float32 values, where those
// few units could decide the direction: that case, one in millions, and
// everything outside the range, goes to strconv.
func (n *num) float32() (float32, bool) {
	if n.mant == 0 {
		return signed0[float32](n.neg), true
	}
	if n.digits > 19 || n.exp < -22 || n.exp > 22 {
		return 0, false
	}
	f := n.scaled()
	if low := math.Float64bits(f) & (1<<29 - 1); low-(1<<28-16) <= 32 || f > math.MaxFloat32 {
		return 0, false
	}
	if n.neg {
		f = -f
	}
	return float32(f), true
}

// float64 is Clinger's fast path: exact when mant and the power of ten are
// both exact in float64, as they are for numbers of up to 15 digits or so.
func (n *num) float64() (float64, bool) {
	if n.mant == 0 {
		return signed0[float64](n.neg), true
	}
	if n.digits > 19 || n.mant > 1<<53 || n.exp < -22 || n.exp > 22 {
		return 0, false
	}
	f := n.scaled()
	if n.neg {
		f = -f
	}
	return f, true
}

// scaled is mant × 10^exp, for |exp| <= 22, in one rounding after mant's own.
func (n *num) scaled() float64 {
	if n.exp < 0 {
		return float64(n.mant) / pow10[-n.exp]
	}
	return float64(n.mant) * pow10[n.exp]
}

func signed0[F float32 | float64](neg bool) F {
	var z F
	if neg {
		z = -z // -0, as strconv returns for "-0"
	}
	return z
}

// integer scans a JSON integer at d.i for dt and returns its magnitude.
func (d *decoder) integer(dt tensor.DType) (text []byte, mag uint64, neg bool, err *Error) {
	err = d.numeric("an integer")
	n := &d.num
	switch {
	case err != nil:
		return nil, 0, false, err
	case !n.integral:
		return nil, 0, false, Invalid("", "expected an integer, got %s", clip(n.text))
	case n.digits > 19: // 19 digits always fit in a uint64, 20 may
		digits := n.text[len(n.text)-n.digits:]
		mag, perr := strconv.ParseUint(unsafeString(digits), 10, 64)
		if perr != nil {
			return nil, 0, false, intRange(n.text, dt)
		}
		return n.text, mag, n.neg, nil
	}
	return n.text, n.mant, n.neg, nil
}

// str reads the string at d.i (at its opening quote) and returns its
// unescaped bytes, which point into the body or, when the string has
// escapes, into d.scratch until the next call.
func (d *decoder) str() ([]byte, *Error) {
	b := d.b
	start := d.i + 1
	for i := start; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return b[start:i], nil
		case c == '\\':
			d.scratch = append(d.scratch[:0], b[start:i]...)
			d.i = i
			return d.unescape()
		case c < 0x20:
			d.i = i
			return nil, BadRequest("malformed JSON at offset %d: unescaped control character in a string", d.i)
		}
	}
	d.i = len(b)
	return nil, d.fail("'\"'")
}

// unescape finishes reading a string from d.i, appending to d.scratch.
// Lone surrogates become U+FFFD, as with encoding/json.
func (d *decoder) unescape() ([]byte, *Error) {
	b := d.b
	for d.i < len(b) {
		c := b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.scratch, nil
		case c < 0x20:
			return nil, BadRequest("malformed JSON at offset %d: unescaped control character in a string", d.i)
		case c != '\\':
			d.scratch = append(d.scratch, c)
			d.i++
			continue
		}
		if d.i+1 >= len(b) {
			d.i = len(b)
			return nil, d.fail("an escape")
		}
		switch e := b[d.i+1]; e {
		case '"', '\\', '/':
			d.scratch = append(d.scratch, e)
		case 'b':
			d.scratch = append(d.scratch, '\b')
		case 'f':
			d.scratch = append(d.scratch, '\f')
		case 'n':
			d.scratch = append(d.scratch, '\n')
		case 'r':
			d.scratch = append(d.scratch, '\r')
		case 't':
			d.scratch = append(d.scratch, '\t')
		case 'u':
			r, ok := hex4(b[d.i+2:])
			if !ok {
				return nil, BadRequest("malformed JSON at offset %d: invalid \\u escape", d.i)
			}
			d.i += 6
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one character.
				r2 := utf8.RuneError
				if len(b)-d.i >= 6 && b[d.i] == '\\' && b[d.i+1] == 'u' {
					r2, _ = hex4(b[d.i+2:])
				}
				if r = utf16.DecodeRune(r, r2); r != utf8.RuneError {
					d.i += 6
				}
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
			continue
		default:
			d.i++
			return nil, d.fail("one of \" \\ / b f n r t u after '\\'")
		}
		d.i += 2
	}
	return nil, d.fail("'\"'")
}

// hex4 decodes the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case isDigit(c):
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// quoteList writes names as "a", "b", "c" for messages, shortened when long.
func quoteList(names []string) string {
	const most = 10
	var b strings.Builder
	for i, n := range names {
		if i == most {
			fmt.Fprintf(&b, ", ... (%d in all)", len(names))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}
