package grpc_test

import (
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// TestModelInferRejectedInputs pins that inputs ONNX Runtime refuses at run
// time (the reshape test model needs batch*n to be a multiple of 32, which
// its signature cannot say) are INVALID_ARGUMENT with ORT's reason, not
// INTERNAL, and the server stays ready; inputs that fit are answered.
func TestModelInferRejectedInputs(t *testing.T) {
	dir := t.TempDir()
	servertest.CopyFile(t, servertest.Path("runtime/testdata/reshape.onnx"), filepath.Join(dir, "reshape", "model.onnx"))
	s := start(t, dir, options{})
	req := func(n int) *pb.ModelInferRequest {
		return &pb.ModelInferRequest{ModelName: "reshape", Inputs: []*pb.ModelInferRequest_InferInputTensor{{
			Name: "x", Datatype: "FP32", Shape: []int64{1, int64(n)}, Contents: &pb.InferTensorContents{Fp32Contents: make([]float32, n)}}}}
	}
	_, err := s.client.ModelInfer(t.Context(), req(48))
	code, msg := codeOf(err)
	const reason = `model "reshape" refused the inputs at run time: Reshape node: The input tensor cannot be reshaped to the requested shape. Input shape:{1,48}, requested shape:{-1,32}`
	if code != codes.InvalidArgument || msg != reason {
		t.Errorf("48 values: %v %q, want INVALID_ARGUMENT %q", code, msg, reason)
	}
	if strings.Contains(msg, "onnxruntime_src") {
		t.Errorf("the message carries ORT's source path: %q", msg)
	}
	s.ready(t, "a refused run")
	resp, err := s.client.ModelInfer(t.Context(), req(64))
	if err != nil || len(resp.Outputs) != 1 || len(resp.Outputs[0].Shape) != 2 || resp.Outputs[0].Shape[0] != 2 || resp.Outputs[0].Shape[1] != 32 {
		t.Errorf("64 values: %v %v, want y of shape [2, 32]", resp, err)
	}
}
