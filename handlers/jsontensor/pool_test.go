package jsontensor

import (
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestColumnsBySize pins that a column takes a recycled buffer about its
// size: after 25,088-float tensors (a 32-row MLP batch) are released, a
// 4-float iris row does not get one of them, and the next 25,088-float
// column does.
func TestColumnsBySize(t *testing.T) {
	const big = 25088
	column := func(n int) []float32 {
		col := NewColumn(tensor.Float32)
		var d Decoder
		d.Reset(make([]byte, 4*n)) // room for n elements
		col.Reserve(&d, n)
		return col.Tensor(nil).Data.([]float32)
	}
	for range 8 {
		Release([]tensor.Tensor{{DType: tensor.Float32, Data: column(big)}})
	}
	if got := cap(column(4)); got >= big {
		t.Errorf("a 4-float column took a %d-float buffer", got)
	}
	reused := false
	// sync.Pool drops some of what it is given under the race detector.
	for range 20 {
		b := column(big)
		p := &b[:1][0]
		Release([]tensor.Tensor{{DType: tensor.Float32, Data: b}})
		if c := column(big); &c[:1][0] == p {
			reused = true
			break
		}
	}
	if !reused {
		t.Error("a released 25088-float buffer was never given to the next column of as many")
	}
}
