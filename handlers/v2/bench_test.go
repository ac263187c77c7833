package v2

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// BenchmarkDecodeV2 compares the two ways a batch of 64 digits images
// (64 × 64 FP32) reaches the typed buffer: JSON numbers, and the binary
// tensor extension's raw bytes, which skip number parsing entirely.
func BenchmarkDecodeV2(b *testing.B) {
	m := &runtime.Model{Name: "digits", Config: &runtime.Config{}, Signature: tensor.Signature{
		Inputs: []tensor.TensorSpec{{Name: "pixels", DType: tensor.Float32, Shape: []int64{-1, 64}}},
	}}
	vals := make([]string, 64*64)
	var raw []byte
	for i := range vals {
		f := float32(i%17) + 0.0625*float32(i%16)
		vals[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
	}
	jsonBody := []byte(`{"inputs":[{"name":"pixels","shape":[64,64],"datatype":"FP32","data":[` + strings.Join(vals, ",") + `]}]}`)
	header := `{"inputs":[{"name":"pixels","shape":[64,64],"datatype":"FP32","parameters":{"binary_data_size":16384}}]}`
	binBody := append([]byte(header), raw...)
	for _, c := range []struct {
		name   string
		body   []byte
		header int
	}{{"json", jsonBody, len(jsonBody)}, {"binary", binBody, len(header)}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeV2(c.body, c.header, m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vals)), "ns/number")
		})
	}
}
