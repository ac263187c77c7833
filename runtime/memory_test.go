package runtime

import (
	"context"
	"reflect"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestReleaseFreeMemory pins that trimming the C heap between loading and
// serving leaves a live session intact: it returns only free pages.
func TestReleaseFreeMemory(t *testing.T) {
	m, err := LoadModel("iris", "1", "../models/iris/1/model.onnx", nil, LoadOptions{Limiter: NewLimiter(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in := []tensor.Tensor{{DType: tensor.Float32, Shape: []int64{2, 4}, Data: []float32{5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3}}}
	infer := func() []tensor.Tensor {
		t.Helper()
		outs, err := m.Infer(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	before := infer()
	ReleaseFreeMemory()
	after := infer()
	if !reflect.DeepEqual(after, before) {
		t.Errorf("after ReleaseFreeMemory: %+v, before: %+v", after, before)
	}
	if got := after[0].Data.([]int64); got[0] != 0 || got[1] != 2 {
		t.Errorf("labels %v, want [0 2] (setosa, virginica)", got)
	}
}
