package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// BenchmarkV2Infer is the whole v2 handler in process on the prepared MLP
// batch-32 binary body (the docs/benchmarks.md workload "MLP, 32 rows, v2
// binary"): body read, header, copy into the tensor, run, binary response.
// Compare with BenchmarkORT/mlp-b32 in runtime/ on the same core.
func BenchmarkV2Infer(b *testing.B) {
	repo, dir := benchRepo(b)
	h := servertest.Handler(repo, servertest.Options{MaxBodyBytes: 32 << 20})
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
