package runtime

import "testing"

// TestTensorCheck pins that a tensor whose Go buffer does not match its
// dtype or shape is refused before it can reach ORT's C memory.
func TestTensorCheck(t *testing.T) {
	for _, c := range []struct {
		t  Tensor
		ok bool
	}{
		{Tensor{Float32, []int64{2, 2}, []float32{1, 2, 3, 4}}, true},
		{Tensor{Float16, []int64{1}, []float32{1}}, true},
		{Tensor{Float32, nil, []float32{1}}, true},
		{Tensor{Float32, []int64{2, 2}, []float32{1, 2, 3}}, false},
		{Tensor{Int64, []int64{1}, []int32{1}}, false},
		{Tensor{String, []int64{1}, []float32{1}}, false},
		{Tensor{Bool, []int64{0}, []bool{}}, true},
	} {
		if err := c.t.Check(); (err == nil) != c.ok {
			t.Errorf("%v %v %T: %v", c.t.DType, c.t.Shape, c.t.Data, err)
		}
	}
}
