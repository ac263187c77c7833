package jsontensor

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/onnxserve/onnxserve/handlers/sizeclass"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Walk is the shape of one tensor as its nested arrays are read: the first
// array at each depth fixes that dimension and every later one must match.
// It is large, for a value that callers keep and Reset.
type Walk struct {
	spec   *tensor.TensorSpec
	prefix string // of the tensor's name in errors
	rows   bool
	rank   int
	dims   [MaxDepth]int64 // -1 until the first array at that depth has closed
	idx    [MaxDepth]int   // where the reader is, for error fields; kept up to date only above the innermost level
}

// Reset starts the walk of a tensor of spec. Errors name the tensor prefix +
// spec.Name, or, with rows, prefix alone: rows says the outer array is a
// list of instances (v1's "instances"), so that errors index them and
// count ranks per instance.
func (w *Walk) Reset(spec *tensor.TensorSpec, prefix string, rows bool) {
	w.spec, w.prefix, w.rows, w.rank = spec, prefix, rows, len(spec.Shape)
	for k := range min(w.rank, MaxDepth) {
		w.dims[k] = -1
	}
}

// field names the tensor in errors; it is built only for one.
func (w *Walk) field() string {
	if w.rows {
		return w.prefix
	}
	return w.prefix + w.spec.Name
}

// path names the element at idx[:depth], e.g. inputs.X[1][3].
func (w *Walk) path(depth int) string {
	var b strings.Builder
	b.WriteString(w.field())
	for _, i := range w.idx[:depth] {
		fmt.Fprintf(&b, "[%d]", i)
	}
	return b.String()
}

// Shape is the shape of the tensor read, once Nested has returned.
func (w *Walk) Shape() []int64 {
	s := make([]int64, w.rank)
	for k := range s {
		if s[k] = w.dims[k]; s[k] < 0 {
			s[k] = max(w.spec.Shape[k], 0) // under an empty array: no elements either way
		}
	}
	return s
}

// closeDim records that an array at depth had n elements.
func (w *Walk) closeDim(depth, n int) *Error {
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

// elementKind is the JSON type of the tensor's elements, as KindOf names it.
func (w *Walk) elementKind() string {
	switch w.spec.DType {
	case tensor.String:
		return "a string"
	case tensor.Bool:
		return "a boolean"
	}
	return "a number"
}

// rankErr reports a tensor nested got levels deep instead of rank.
func (w *Walk) rankErr(got int) *Error {
	if w.rows {
		return Invalid(w.path(1), "expected rank %d (shape %s) for each instance, got rank %d",
			w.rank-1, tensor.FormatShape(w.spec.Shape[1:]), got-1)
	}
	return Invalid(w.field(), "expected rank %d (shape %s), got rank %d", w.rank, tensor.FormatShape(w.spec.Shape), got)
}

// notArray reports the value at d.i, where an array of depth was due.
func (w *Walk) notArray(d *Decoder, depth int) *Error {
	k := ""
	if d.i < len(d.b) {
		k = KindOf(d.b[d.i])
	}
	switch {
	case k == "":
		return d.Fail("a value")
	case w.dims[depth] < 0 && k == w.elementKind() && !(w.rows && depth == 0):
		// An element where the first array at this depth was due: the
		// tensor itself is too shallow, rather than one element out of line.
		return w.rankErr(depth)
	}
	return Invalid(w.path(depth), "expected an array, got %s", k)
}

// leafErr names a failed element at depth, or reports a rank error when
// the very first element turns out to be an array.
func (w *Walk) leafErr(d *Decoder, err *Error, depth int, first bool) *Error {
	if first && !err.Syntax && d.i < len(d.b) && d.b[d.i] == '[' {
		extra := 0
		for i := d.i; i < len(d.b) && extra < MaxDepth; i++ {
			if c := d.b[i]; c == '[' {
				extra++
			} else if !isSpace(c) {
				break
			}
		}
		return w.rankErr(depth + extra)
	}
	return err.Named(w.path(depth))
}

// Column is the typed buffer that one tensor's elements are decoded into.
type Column interface {
	// Nested reads the tensor w describes, written as nested arrays at
	// the decoder's position, checking its shape in w on the way.
	Nested(d *Decoder, w *Walk) *Error
	// Flat appends the scalars of the array whose '[' is at the
	// decoder's position (Next has returned it); errors name them
	// field[i]. How many there should be is the caller's to check.
	Flat(d *Decoder, field string) *Error
	// At reads the scalar at the decoder into element i, which Grow has
	// already made; an error leaves its field for the caller to name.
	At(d *Decoder, i int) *Error
	// Grow appends n zero elements.
	Grow(n int)
	// Reserve makes room for n elements in all, but for no more than the
	// rest of d's body could fill (Decoder.Room): a count a client
	// declares, or one guessed from a first row, costs at most the body's
	// size again before the data is there.
	Reserve(d *Decoder, n int)
	// Tensor is the elements so far as a tensor of shape; never a nil
	// Data, which could pass for a missing input.
	Tensor(shape []int64) tensor.Tensor
}

// leaf parses the scalar at d.i as an element of type dt.
type leaf[T any] func(d *Decoder, dt tensor.DType) (T, *Error)

// kind is what a column holds: the dtype of its elements and the leaf
// that parses one. There is one, static, per dtype, so that a column
// carries a pointer to it rather than both (which would take it from 32
// to 48 bytes).
type kind[T any] struct {
	dt   tensor.DType
	leaf leaf[T]
	bulk bulk[T]        // nil: element at a time
	pool *bufferPool[T] // nil: buffers not recycled
}

var (
	float32Kind  = kind[float32]{tensor.Float32, leafFloat32, float32s, &float32Bufs}
	float16Kind  = kind[float32]{tensor.Float16, leafFloat32, float32s, &float32Bufs}
	bfloat16Kind = kind[float32]{tensor.BFloat16, leafFloat32, float32s, &float32Bufs}
	float64Kind  = kind[float64]{tensor.Float64, leafFloat64, float64s, &float64Bufs}
	int8Kind     = kind[int8]{tensor.Int8, leafSigned[int8], ints[int8], nil}
	int16Kind    = kind[int16]{tensor.Int16, leafSigned[int16], ints[int16], nil}
	int32Kind    = kind[int32]{tensor.Int32, leafSigned[int32], ints[int32], nil}
	int64Kind    = kind[int64]{tensor.Int64, leafSigned[int64], ints[int64], &int64Bufs}
	uint8Kind    = kind[uint8]{tensor.Uint8, leafUnsigned[uint8], ints[uint8], nil}
	uint16Kind   = kind[uint16]{tensor.Uint16, leafUnsigned[uint16], ints[uint16], nil}
	uint32Kind   = kind[uint32]{tensor.Uint32, leafUnsigned[uint32], ints[uint32], nil}
	uint64Kind   = kind[uint64]{tensor.Uint64, leafUnsigned[uint64], ints[uint64], nil}
	boolKind     = kind[bool]{tensor.Bool, leafBool, nil, nil}
	stringKind   = kind[string]{tensor.String, leafString, nil, nil}
)

type buffer[T any] struct {
	data []T
	*kind[T]
}

// NewColumn returns an empty column for elements of type dt, or nil if
// JSON cannot carry them. Columns of the dtypes clients send in bulk take
// their buffers from a pool once they know about how many elements they
// hold: pass their tensors to Release once they are no longer used.
func NewColumn(dt tensor.DType) Column {
	switch dt {
	case tensor.Float32:
		return &buffer[float32]{nil, &float32Kind}
	case tensor.Float16:
		return &buffer[float32]{nil, &float16Kind}
	case tensor.BFloat16:
		return &buffer[float32]{nil, &bfloat16Kind}
	case tensor.Float64:
		return &buffer[float64]{nil, &float64Kind}
	case tensor.Int8:
		return &buffer[int8]{nil, &int8Kind}
	case tensor.Int16:
		return &buffer[int16]{nil, &int16Kind}
	case tensor.Int32:
		return &buffer[int32]{nil, &int32Kind}
	case tensor.Int64:
		return &buffer[int64]{nil, &int64Kind}
	case tensor.Uint8:
		return &buffer[uint8]{nil, &uint8Kind}
	case tensor.Uint16:
		return &buffer[uint16]{nil, &uint16Kind}
	case tensor.Uint32:
		return &buffer[uint32]{nil, &uint32Kind}
	case tensor.Uint64:
		return &buffer[uint64]{nil, &uint64Kind}
	case tensor.Bool:
		return &buffer[bool]{nil, &boolKind}
	case tensor.String:
		return &buffer[string]{nil, &stringKind}
	}
	return nil
}

func (b *buffer[T]) Grow(n int) {
	b.reserve(len(b.data) + n)
	b.data = append(b.data, make([]T, n)...)
}

func (b *buffer[T]) Reserve(d *Decoder, n int) {
	var zero T
	b.reserve(min(n, len(b.data)+d.Room(int(unsafe.Sizeof(zero)))))
}

// reserve makes room for n elements in all. A recycled column grows into
// a buffer of about n from the pool, or a new one of n's size class,
// which the pool can give a later column of about this size; the buffer
// it leaves goes back to the pool (nothing else holds it while a column
// is read). A first guess from one row must not make every request's
// whole tensor new.
func (b *buffer[T]) reserve(n int) {
	switch {
	case n <= cap(b.data):
	case b.pool == nil:
		b.data = slices.Grow(b.data, n-len(b.data))
	default:
		grown := b.pool.get(n)
		if grown == nil {
			grown = sizeclass.Make[T](0, n)
		}
		grown = append(grown, b.data...)
		b.pool.put(b.data)
		b.data = grown
	}
}

// push appends v, growing a full buffer to what the rest of the body is
// likely to hold at the density of the elements read so far (within
// Reserve's bound), or doubling it while there are too few to tell:
// append grows a large slice by a quarter at a time, and the buffers it
// left behind came to five times the tensor.
func (b *buffer[T]) push(d *Decoder, v T) {
	if n := len(b.data); n == cap(b.data) {
		switch used := d.i - d.first; {
		case n == 0:
			d.first = d.i
			b.Reserve(d, 16)
		case n < 1024 || used <= 0:
			b.Reserve(d, 2*n)
		default:
			b.Reserve(d, max(n+n*(len(d.b)-d.i)/used+n/16, 2*n))
		}
	}
	b.data = append(b.data, v)
}

func (b *buffer[T]) Tensor(shape []int64) tensor.Tensor {
	if b.data == nil {
		b.data = []T{}
	}
	return tensor.Tensor{DType: b.dt, Shape: shape, Data: b.data}
}

func (b *buffer[T]) At(d *Decoder, i int) *Error {
	d.Next()
	v, err := b.leaf(d, b.dt)
	b.data[i] = v
	return err
}

func (b *buffer[T]) Nested(d *Decoder, w *Walk) *Error { return b.fill(d, w, 0) }

// fill reads the value at depth of the tensor w describes: an array of
// depth+1 nested levels below it, or a scalar at depth == rank.
func (b *buffer[T]) fill(d *Decoder, w *Walk, depth int) *Error {
	leaf, dt := b.leaf, b.dt
	if depth == w.rank {
		d.Next()
		v, err := leaf(d, dt)
		if err != nil {
			return w.leafErr(d, err, depth, true)
		}
		b.push(d, v)
		return nil
	}
	if d.Next() != '[' {
		return w.notArray(d, depth)
	}
	if err := d.open(); err != nil {
		return err
	}
	n := 0
	if d.Next() == ']' {
		d.close()
		return w.closeDim(depth, 0)
	}
	start := d.i
	for {
		switch {
		case depth+1 != w.rank:
			w.idx[depth] = n
			if err := b.fill(d, w, depth+1); err != nil {
				return err
			}
			n++
		case b.bulkRun(d, &n, depth > 0 || n > 0):
		default:
			// The innermost level, where all the numbers are: kept flat.
			d.Next()
			v, err := leaf(d, dt)
			if err != nil {
				w.idx[depth] = n
				return w.leafErr(d, err, depth+1, len(b.data) == 0)
			}
			b.push(d, v)
			n++
		}
		if depth == 0 && n == 1 {
			b.Reserve(d, len(b.data)*estimateRows(len(d.b)-d.i, d.i-start))
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
	}
}

// bulkRun reads as many elements of an innermost array as the column's
// bulk reader takes, if it has one and may (the first element of a rank-1
// tensor is read alone: its length sizes the buffer), counting them in
// *n. It reports whether the decoder is now after an element, at its
// separator, rather than at the start of one still to read.
func (b *buffer[T]) bulkRun(d *Decoder, n *int, may bool) bool {
	if b.bulk == nil || !may {
		return false
	}
	k, after := b.bulk(d, b.data[len(b.data):cap(b.data)], b.dt)
	b.data = b.data[:len(b.data)+k]
	*n += k
	return after
}

// Flat reads with the leaves the nested walk uses: Elements, with the
// bulk reader's shortcut.
func (b *buffer[T]) Flat(d *Decoder, field string) *Error {
	if err := d.open(); err != nil {
		return err
	}
	if d.Next() == ']' {
		d.close()
		return nil
	}
	for i := 0; ; {
		if !b.bulkRun(d, &i, true) {
			d.Next()
			v, err := b.leaf(d, b.dt)
			if err != nil {
				return err.Named(fmt.Sprintf("%s[%d]", field, i))
			}
			b.push(d, v)
			i++
		}
		if more, err := d.more(']'); !more {
			return err
		}
	}
}

// Rows reads the array at the decoder's position as a batch of rows that
// fill col, per elements each: row reads row i, which starts at the
// decoder (whitespace not yet skipped), and must consume it. The length
// of the first row tells how many more the body likely holds, which col
// is then reserved for. Rows returns how many rows there were.
func (d *Decoder) Rows(col Column, per int, row func(i int) *Error) (int, *Error) {
	d.Next()
	if err := d.open(); err != nil {
		return 0, err
	}
	if d.Next() == ']' {
		d.close()
		return 0, nil
	}
	for n := 0; ; {
		start := d.i
		if err := row(n); err != nil {
			return n, err
		}
		if n++; n == 1 {
			col.Reserve(d, per*estimateRows(len(d.b)-d.i, d.i-start))
		}
		more, err := d.more(']')
		if err != nil {
			return n, err
		}
		if !more {
			return n, nil
		}
	}
}

// estimateRows guesses how many rows a batch has from the size of its
// first one, so that the buffer is allocated about once. The rest of the
// body may be other inputs, so this overestimates, but never beyond a
// small multiple of the body's size.
func estimateRows(left, first int) int {
	rows := 1
	if more := left / (first + 1); more > 0 {
		rows += more + more/16 + 1 // rows vary in length; one short would double the buffer
	}
	return rows
}

// Leaves. Each parses the scalar at d.i (whitespace already skipped) or
// returns an error without a field, which the caller names.

type signed interface{ int8 | int16 | int32 | int64 }

type unsigned interface {
	uint8 | uint16 | uint32 | uint64
}

// leafFloat32 also serves float16 and bfloat16, which Go holds as float32;
// those are checked against their own, narrower range.
func leafFloat32(d *Decoder, dt tensor.DType) (float32, *Error) {
	if err := d.numeric("a number"); err != nil {
		return 0, err
	}
	v, ok := d.num.float32()
	if !ok {
		f, perr := strconv.ParseFloat(unsafeString(d.numText()), 32)
		if perr != nil {
			return 0, floatRange(d.numText(), dt)
		}
		v = float32(f)
	}
	if dt != tensor.Float32 && !fitsHalf(v, dt) {
		return 0, floatRange(d.numText(), dt)
	}
	return v, nil
}

func leafFloat64(d *Decoder, dt tensor.DType) (float64, *Error) {
	if err := d.numeric("a number"); err != nil {
		return 0, err
	}
	if v, ok := d.num.float64(); ok {
		return v, nil
	}
	f, perr := strconv.ParseFloat(unsafeString(d.numText()), 64)
	if perr != nil {
		return 0, floatRange(d.numText(), dt)
	}
	return f, nil
}

func leafSigned[T signed](d *Decoder, dt tensor.DType) (T, *Error) {
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

func leafUnsigned[T unsigned](d *Decoder, dt tensor.DType) (T, *Error) {
	text, mag, neg, err := d.integer(dt)
	if err != nil {
		return 0, err
	}
	if (neg && mag != 0) || mag > uint64(1)<<dt.Bits()-1 {
		return 0, intRange(text, dt)
	}
	return T(mag), nil
}

func leafBool(d *Decoder, _ tensor.DType) (bool, *Error) {
	rest := d.b[d.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.i += 4
		return true, nil
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.i += 5
		return false, nil
	}
	return false, d.Mismatch("", "true or false")
}

func leafString(d *Decoder, _ tensor.DType) (string, *Error) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", d.Mismatch("", "a string")
	}
	s, err := d.Str()
	return string(s), err
}

// Bool reads the JSON boolean at the decoder, after whitespace; an error
// leaves its field for the caller to name.
func (d *Decoder) Bool() (bool, *Error) {
	d.Next()
	return leafBool(d, tensor.Bool)
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
