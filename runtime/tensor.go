package runtime

import (
	"fmt"
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

// NumElements is the product of the shape (1 for a scalar).
func NumElements(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// Len returns the number of elements in Data.
func (t *Tensor) Len() int {
	switch d := t.Data.(type) {
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	case []int8:
		return len(d)
	case []int16:
		return len(d)
	case []int32:
		return len(d)
	case []int64:
		return len(d)
	case []uint8:
		return len(d)
	case []uint16:
		return len(d)
	case []uint32:
		return len(d)
	case []uint64:
		return len(d)
	case []bool:
		return len(d)
	case []string:
		return len(d)
	case []map[string]float64:
		return len(d)
	}
	return 0
}

// Check reports whether Data has the Go type DType needs and as many
// elements as Shape says. It runs on every request, so it switches on the
// type rather than formatting or reflecting.
func (t *Tensor) Check() error {
	var ok bool
	switch t.Data.(type) {
	case []float32:
		ok = t.DType == Float32 || t.DType == Float16 || t.DType == BFloat16
	case []float64:
		ok = t.DType == Float64
	case []int8:
		ok = t.DType == Int8
	case []int16:
		ok = t.DType == Int16
	case []int32:
		ok = t.DType == Int32
	case []int64:
		ok = t.DType == Int64
	case []uint8:
		ok = t.DType == Uint8
	case []uint16:
		ok = t.DType == Uint16
	case []uint32:
		ok = t.DType == Uint32
	case []uint64:
		ok = t.DType == Uint64
	case []bool:
		ok = t.DType == Bool
	case []string:
		ok = t.DType == String
	case []map[string]float64:
		return nil
	}
	if !ok {
		return fmt.Errorf("tensor of %v holds %T", t.DType, t.Data)
	}
	if n := NumElements(t.Shape); n != t.Len() {
		return fmt.Errorf("tensor of shape %v has %d elements, want %d", t.Shape, t.Len(), n)
	}
	return nil
}

// FormatShape writes a shape as [-1, 4].
func FormatShape(shape []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", d)
	}
	b.WriteByte(']')
	return b.String()
}
