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
// elements as Shape says.
func (t *Tensor) Check() error {
	want := NewBuffer(t.DType, 0)
	if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", t.Data) {
		return fmt.Errorf("tensor of %v holds %T, want %T", t.DType, t.Data, want)
	}
	if n := NumElements(t.Shape); t.DType != MapSequence && n != t.Len() {
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
