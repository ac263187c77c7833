package v2

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Only inputs decoded from JSON go back to the buffer pools: binary ones
// may be the body's own bytes, which the next request overwrites.
func TestV2PooledInputs(t *testing.T) {
	m := &runtime.Model{Name: "two", Config: &runtime.Config{}, Signature: tensor.Signature{
		Inputs: []tensor.TensorSpec{
			{Name: "a", DType: tensor.Float32, Shape: []int64{-1, 2}},
			{Name: "b", DType: tensor.Float32, Shape: []int64{-1, 2}},
		},
		Outputs: []tensor.TensorSpec{{Name: "y", DType: tensor.Float32, Shape: []int64{-1}}},
	}}
	header := `{"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2]},` +
		`{"name":"b","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}`
	body := []byte(header)
	for _, f := range []float32{3, 4} {
		body = binary.LittleEndian.AppendUint32(body, math.Float32bits(f))
	}
	req, err := decodeV2(body, len(header), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.pooled) != 1 || !slices.Equal(req.pooled[0].Data.([]float32), []float32{1, 2}) {
		t.Fatalf("pooled %v, want input a only", req.pooled)
	}
	if got := req.core.Inputs[1].Data.([]float32); !slices.Equal(got, []float32{3, 4}) {
		t.Fatalf("input b %v", got)
	}
}
