package handlers

import (
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
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
			for b.Loop() {
				if _, err := decodeV2(c.body, c.header, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkV2Infer is the whole v2 handler in process on the prepared MLP
// batch-32 binary body (the docs/benchmarks.md workload "MLP, 32 rows, v2
// binary"): body read, header, copy into the tensor, run, binary response.
// Compare with BenchmarkORT/mlp-b32 in runtime/ on the same core.
func BenchmarkV2Infer(b *testing.B) {
	repo, dir := benchRepo(b)
	h := New(Options{Repository: repo, MaxBodyBytes: 32 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	body := benchBody(b, dir, "mlp_b32.bin")
	hlen := strings.TrimSpace(string(benchBody(b, dir, "mlp_b32.bin.hlen")))
	newClient := func() *benchClient {
		c := newBenchClient("mlp")
		c.req = httptest.NewRequest("POST", "/v2/models/mlp/infer", c.body)
		c.req.ContentLength = int64(len(body)) // as over HTTP
		c.req.Header.Set(headerLengthKey, hlen)
		return c
	}
	b.Run("mlp-rows-32-binary", func(b *testing.B) {
		client := newClient()
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if status := client.post(h, body); status != http.StatusOK {
				b.Fatalf("status %d", status)
			}
		}
	})
	// 32 concurrent requests per core, as the HTTP benchmark's connections.
	b.Run("mlp-rows-32-binary-parallel", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.SetParallelism(32)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			client := newClient()
			for pb.Next() {
				if status := client.post(h, body); status != http.StatusOK {
					b.Errorf("status %d", status)
					return
				}
			}
		})
	})
}
