package tensor

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Tensor is a typed, row-major buffer with a shape. Data holds the Go slice
// that NewBuffer(DType, n) returns, e.g. []float32 for Float32, Float16 and
// BFloat16. Tensors are plain Go memory: the runtime wraps them in ORT values
// only for the duration of one run, so callers never Destroy anything.
type Tensor struct {
	DType DType
	Shape []int64
	Data  any
}

// nativeLE is whether this machine stores numbers little-endian, as the
// raw tensor layout does.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// NumElements is the product of the shape (1 for a scalar).
func NumElements(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

func (t *Tensor) ops() elemOps {
	if !t.DType.valid() {
		return nil
	}
	return dtypes[t.DType].ops
}

// Len returns the number of elements in Data, 0 when Data is not the
// slice type DType needs.
func (t *Tensor) Len() int {
	if o := t.ops(); o != nil {
		return o.len(t.Data)
	}
	return 0
}

// Check reports whether Data has the Go type DType needs and as many
// elements as Shape says: what ORT's C code relies on to stay inside the
// buffer. It runs on every request.
func (t *Tensor) Check() error {
	o := t.ops()
	if o == nil || !o.holds(t.Data) {
		return fmt.Errorf("tensor of %v holds %T", t.DType, t.Data)
	}
	if t.DType == MapSequence {
		return nil
	}
	if n := NumElements(t.Shape); n != o.len(t.Data) {
		return fmt.Errorf("tensor of shape %v has %d elements, want %d", t.Shape, o.len(t.Data), n)
	}
	return nil
}

// Rows returns rows [off, off+n) of a tensor of rank 1 or more, sharing
// its memory.
func (t Tensor) Rows(off, n int) Tensor {
	stride := NumElements(t.Shape[1:])
	shape := append([]int64{int64(n)}, t.Shape[1:]...)
	return Tensor{DType: t.DType, Shape: shape, Data: t.ops().slice(t.Data, off*stride, (off+n)*stride)}
}

// Concat joins parts, which agree on dtype and on every dim but the
// first, along dim 0. It reuses into's buffer when that has room.
func Concat(into Tensor, parts []Tensor) Tensor {
	first := parts[0]
	rows := int64(0)
	for _, p := range parts {
		rows += p.Shape[0]
	}
	shape := append(into.Shape[:0], rows)
	shape = append(shape, first.Shape[1:]...)
	data := dtypes[first.DType].ops.concat(into.Data, NumElements(shape), parts)
	return Tensor{DType: first.DType, Shape: shape, Data: data}
}

// Memory is the tensor's data as raw little-endian bytes, in place, for the
// types whose Go representation is that layout (numbers and bools, on a
// little-endian machine); false for the others.
func (t *Tensor) Memory() ([]byte, bool) {
	if o := t.ops(); o != nil {
		return o.memory(t.Data)
	}
	return nil, false
}

// View returns raw, raw little-endian elements of d, as d's Go slice: raw
// itself when it is aligned for the element type, else one copy. It is for
// the types Memory serves; raw must stay unchanged while the view is used.
func View(d DType, raw []byte) (any, bool) {
	if !d.valid() || d.IsHalf() || d.Size() == 0 || !nativeLE {
		return nil, false
	}
	return dtypes[d].ops.view(raw), true
}

// FormatShape writes a shape as [-1, 4].
func FormatShape(shape []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(d, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// Names are the specs' names, in order.
func Names(specs []TensorSpec) []string {
	names := make([]string, len(specs))
	for i := range specs {
		names[i] = specs[i].Name
	}
	return names
}

// QuoteNames writes names for a message as "a", "b", "c", cut short after
// ten: a hostile request may name thousands.
func QuoteNames(names []string) string {
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
