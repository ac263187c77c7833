package grpc

import (
	"strings"
	"testing"
	"time"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestDecodeTimeout pins the request parameter timeout: an int64_param of
// microseconds, as Triton's, into the core request's Timeout; 0 or absent
// is none (the call's own deadline still applies, through its context);
// another type or a negative value is INVALID_ARGUMENT naming it.
func TestDecodeTimeout(t *testing.T) {
	m := &runtime.Model{Name: "m", Config: &runtime.Config{}, Signature: tensor.Signature{
		Inputs: []tensor.TensorSpec{{Name: "x", DType: tensor.Float32, Shape: []int64{-1}}},
	}}
	i64 := func(v int64) *pb.InferParameter {
		return &pb.InferParameter{ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: v}}
	}
	for _, tc := range []struct {
		name   string
		params map[string]*pb.InferParameter
		want   time.Duration
		err    string // "" when it must be read
	}{
		{"none", nil, 0, ""},
		{"200000 µs", map[string]*pb.InferParameter{"timeout": i64(200000)}, 200 * time.Millisecond, ""},
		{"0: none", map[string]*pb.InferParameter{"timeout": i64(0)}, 0, ""},
		{"other parameters ignored", map[string]*pb.InferParameter{"priority": i64(1), "timeout": i64(5)}, 5 * time.Microsecond, ""},
		{"negative", map[string]*pb.InferParameter{"timeout": i64(-1)}, 0, "parameter 'timeout' is -1: microseconds, 0 (none) or more"},
		{"a string", map[string]*pb.InferParameter{"timeout": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: "200ms"}}}, 0,
			"parameter 'timeout' must be an int64_param of microseconds"},
		{"uint64_param", map[string]*pb.InferParameter{"timeout": {ParameterChoice: &pb.InferParameter_Uint64Param{Uint64Param: 5}}}, 0,
			"parameter 'timeout' must be an int64_param"},
	} {
		req := &pb.ModelInferRequest{ModelName: "m", Parameters: tc.params,
			Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1}}}}}
		r, err := decode(m, req, 1<<20)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && r.Timeout != tc.want:
			t.Errorf("%s: Timeout %v, want %v", tc.name, r.Timeout, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.err)
		}
	}
}
