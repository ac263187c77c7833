package runtime

import (
	"errors"
	"strings"
	"testing"
)

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

// TestInferRefusesDisagreeingBatches pins that the runtime itself refuses
// inputs whose batch sizes differ: the batcher merges and splits requests
// by one input's batch, and would otherwise hand a client another's rows.
func TestInferRefusesDisagreeingBatches(t *testing.T) {
	for _, batching := range []*DynamicBatching{nil, {MaxBatchSize: 8}} {
		m, err := LoadModel("tabular", "1", "../models/tabular/model.onnx", &Config{DynamicBatching: batching}, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Infer(t.Context(), []Tensor{
			{Float32, []int64{1, 3}, []float32{1, 2, 3}},
			{Int64, []int64{2}, []int64{0, 1}},
		})
		var re *RunError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "category") {
			t.Errorf("batching %v: %v", batching != nil, err)
		}
		m.Close()
	}
}
