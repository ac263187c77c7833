package grpc_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
)

// BenchmarkModelInfer is the whole gRPC path in process, over an in-memory
// connection (bufconn: HTTP/2 framing, protobuf both ways, decode, run,
// encode, without the kernel's TCP), on the workloads of docs/benchmarks.md's
// gRPC rows: iris one row typed and raw, and the MLP batch 32 raw, on the
// models and bodies scripts/bench.sh prepares (skipped without them;
// ONNXSERVE_BENCH_DIR points elsewhere). Compare with BenchmarkORT/mlp-b32
// in runtime/ on the same core.
func BenchmarkModelInfer(b *testing.B) {
	dir := os.Getenv("ONNXSERVE_BENCH_DIR")
	if dir == "" {
		dir = "../../.cache/bench"
	}
	if _, err := os.Stat(filepath.Join(dir, "repo")); err != nil {
		b.Skipf("no bench models in %s: run `scripts/bench.sh prepare` first", dir)
	}
	s := start(b, filepath.Join(dir, "repo"), options{maxMessage: 32 << 20})
	// The MLP's 32 rows are the raw float32 bytes after the JSON header of
	// the REST binary body, so both send the same numbers.
	body, err := os.ReadFile(filepath.Join(dir, "bodies", "mlp_b32.bin"))
	if err != nil {
		b.Fatal(err)
	}
	hlenText, err := os.ReadFile(filepath.Join(dir, "bodies", "mlp_b32.bin.hlen"))
	if err != nil {
		b.Fatal(err)
	}
	hlen, err := strconv.Atoi(strings.TrimSpace(string(hlenText)))
	if err != nil {
		b.Fatal(err)
	}
	md, err := s.client.ModelMetadata(b.Context(), &pb.ModelMetadataRequest{Name: "mlp"})
	if err != nil {
		b.Fatal(err)
	}
	mlp := &pb.ModelInferRequest{ModelName: "mlp",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: md.Inputs[0].Name, Datatype: "FP32", Shape: []int64{32, 784}}},
		RawInputContents: [][]byte{body[hlen:]}}
	irisTyped := &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}}
	irisRaw := &pb.ModelInferRequest{ModelName: "iris",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "X", Datatype: "FP32", Shape: []int64{1, 4}}},
		RawInputContents: [][]byte{f32raw(setosa...)}}
	for _, c := range []struct {
		name string
		req  *pb.ModelInferRequest
	}{{"iris-1-typed", irisTyped}, {"iris-1-raw", irisRaw}, {"mlp-rows-32-raw", mlp}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.client.ModelInfer(b.Context(), c.req); err != nil {
					b.Fatal(err)
				}
			}
		})
		// With a deadline, as most clients call (the server then gives
		// the core an earlier one of its own: answerInTime).
		b.Run(c.name+"-deadline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
				_, err := s.client.ModelInfer(ctx, c.req)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		// 32 concurrent calls per core, as the HTTP benchmark's connections.
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(p *testing.PB) {
				for p.Next() {
					if _, err := s.client.ModelInfer(b.Context(), c.req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
