package handlers

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
	"unsafe"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// decodeBinary uses aligned bytes in place and copies misaligned ones
// once; the values are the same either way.
func TestDecodeBinaryInPlace(t *testing.T) {
	want := []float64{1.5, -2, math.Inf(1), 0x1p-1074}
	buf := make([]byte, 8, 8+8*len(want)) // Go aligns the start to at least 8
	for _, f := range want {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(f))
	}
	odd := append(make([]byte, 1, len(buf)), buf[8:]...)[1:]
	shape := []int64{2, 2}
	for _, c := range []struct {
		name    string
		raw     []byte
		inPlace bool
	}{
		{"aligned", buf[8:], true},
		{"misaligned", odd, false},
	} {
		ts, err := decodeBinary(tensor.Float64, shape, c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := ts.Data.([]float64)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", c.name, got, want)
		}
		shared := unsafe.Pointer(unsafe.SliceData(got)) == unsafe.Pointer(unsafe.SliceData(c.raw))
		if nativeLE := binary.NativeEndian.Uint16([]byte{1, 0}) == 1; nativeLE && shared != c.inPlace {
			t.Errorf("%s: shares the body's memory: %v, want %v", c.name, shared, c.inPlace)
		}
		if cap(got) != len(want) {
			t.Errorf("%s: cap %d: an append could write into the body", c.name, cap(got))
		}
	}
}

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
	if got := req.inputs[1].Data.([]float32); !slices.Equal(got, []float32{3, 4}) {
		t.Fatalf("input b %v", got)
	}
}
