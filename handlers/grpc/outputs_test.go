package grpc_test

import (
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// TestModelInferOutputsComputed pins on gRPC that a request's outputs
// select what is computed: on an x that the branches test model's picky
// refuses (its Gather takes only x under 3), ok alone is answered as 2·x,
// raw and typed, and picky, alone, with ok or by asking for every output,
// is INVALID_ARGUMENT with the Gather's reason.
func TestModelInferOutputsComputed(t *testing.T) {
	dir := t.TempDir()
	servertest.CopyFile(t, servertest.Path("runtime/testdata/branches.onnx"), filepath.Join(dir, "branches", "model.onnx"))
	s := start(t, dir, options{})
	x := make([]float32, 48) // 0, 0.25, ..., 11.75
	for i := range x {
		x[i] = float32(i) / 4
	}
	typed := []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{3, 16}, Contents: &pb.InferTensorContents{Fp32Contents: x}}}
	raw := []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{3, 16}}}
	asked := func(names ...string) []*pb.ModelInferRequest_InferRequestedOutputTensor {
		var outs []*pb.ModelInferRequest_InferRequestedOutputTensor
		for _, n := range names {
			outs = append(outs, &pb.ModelInferRequest_InferRequestedOutputTensor{Name: n})
		}
		return outs
	}
	for _, tc := range []struct {
		name    string
		req     *pb.ModelInferRequest
		refused bool
	}{
		{"typed, ok", &pb.ModelInferRequest{ModelName: "branches", Inputs: typed, Outputs: asked("ok")}, false},
		{"raw, ok", &pb.ModelInferRequest{ModelName: "branches", Inputs: raw, RawInputContents: [][]byte{f32raw(x...)}, Outputs: asked("ok")}, false},
		{"picky", &pb.ModelInferRequest{ModelName: "branches", Inputs: typed, Outputs: asked("picky")}, true},
		{"ok and picky", &pb.ModelInferRequest{ModelName: "branches", Inputs: typed, Outputs: asked("ok", "picky")}, true},
		{"every output", &pb.ModelInferRequest{ModelName: "branches", Inputs: typed}, true},
	} {
		resp, err := s.client.ModelInfer(t.Context(), tc.req)
		if tc.refused {
			if code, msg := codeOf(err); code != codes.InvalidArgument || !strings.Contains(msg, "Gather node: indices element out of data bounds") {
				t.Errorf("%s: %v %q, want INVALID_ARGUMENT with the Gather's reason", tc.name, code, msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(resp.Outputs) != 1 || resp.Outputs[0].Name != "ok" || len(resp.RawOutputContents) != 1 {
			t.Errorf("%s: outputs %v, want ok alone", tc.name, resp.Outputs)
			continue
		}
		ok := rawf32(resp.RawOutputContents[0])
		if len(ok) != len(x) {
			t.Fatalf("%s: %d values of ok, want %d", tc.name, len(ok), len(x))
		}
		for i := range x {
			if ok[i] != 2*x[i] {
				t.Errorf("%s: ok[%d] = %v, want 2·%v", tc.name, i, ok[i], x[i])
				break
			}
		}
	}
	s.ready(t, "refused runs")
}
