package grpc_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// TestModelInfer pins the answer's form on iris, typed and raw: outputs
// in raw_output_contents in the order asked for, the id echoed, the model
// and version named, classification as "score:index:label". The values
// are those numpy computed at export (models/iris/1/expected.json).
func TestModelInfer(t *testing.T) {
	s := start(t, servertest.Path("models"), options{})
	wantP := []float32{0.9815846681594849, 0.018415343016386032, 1.4496836620025988e-08}
	typed := &pb.ModelInferRequest{ModelName: "iris", Id: "req-1", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}}
	raw := &pb.ModelInferRequest{ModelName: "iris", ModelVersion: "1", Id: "req-2",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "X", Datatype: "FP32", Shape: []int64{1, 4}}},
		RawInputContents: [][]byte{f32raw(setosa...)}}
	for name, req := range map[string]*pb.ModelInferRequest{"typed": typed, "raw": raw} {
		t.Run(name, func(t *testing.T) {
			resp, err := s.client.ModelInfer(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ModelName != "iris" || resp.ModelVersion != "1" || resp.Id != req.Id {
				t.Errorf("model %q version %q id %q", resp.ModelName, resp.ModelVersion, resp.Id)
			}
			if len(resp.Outputs) != 2 || len(resp.RawOutputContents) != 2 || resp.Outputs[0].Name != "label" || resp.Outputs[1].Name != "probabilities" {
				t.Fatalf("outputs %v, %d raw", resp.Outputs, len(resp.RawOutputContents))
			}
			if o := resp.Outputs[0]; o.Datatype != "INT64" || fmt.Sprint(o.Shape) != "[1]" || !bytes.Equal(resp.RawOutputContents[0], make([]byte, 8)) {
				t.Errorf("label %v %x, want INT64 [1] 0", o, resp.RawOutputContents[0])
			}
			p := rawf32(resp.RawOutputContents[1])
			for i := range wantP {
				if d := p[i] - wantP[i]; d > 1e-6 || d < -1e-6 {
					t.Errorf("probabilities %v, want %v", p, wantP)
					break
				}
			}
		})
	}

	t.Run("outputs and classification", func(t *testing.T) {
		req := &pb.ModelInferRequest{ModelName: "iris", Inputs: typed.Inputs, Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{
			{Name: "probabilities", Parameters: map[string]*pb.InferParameter{"classification": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 2}}}},
		}}
		resp, err := s.client.ModelInfer(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Outputs) != 1 || resp.Outputs[0].Datatype != "BYTES" || fmt.Sprint(resp.Outputs[0].Shape) != "[1 2]" {
			t.Fatalf("outputs %v", resp.Outputs)
		}
		got := strings.Join(byteElements(t, resp.RawOutputContents[0]), " ")
		if !strings.HasPrefix(got, "0.98158") || !strings.Contains(got, ":0:setosa 0.0184") || !strings.HasSuffix(got, ":1:versicolor") {
			t.Errorf("classes %q, want setosa then versicolor", got)
		}
	})
}

// byteElements reads BYTES elements in the raw layout.
func byteElements(t *testing.T, raw []byte) []string {
	var out []string
	for len(raw) > 0 {
		if len(raw) < 4 {
			t.Fatalf("BYTES element cut short: %x", raw)
		}
		n := binary.LittleEndian.Uint32(raw)
		out = append(out, string(raw[4:4+n]))
		raw = raw[4+n:]
	}
	return out
}

// TestModelInferErrors pins the status code and the words of every way a
// request can fail to fit the model, and that the server is still ready
// after each. The message names the input and what was expected.
func TestModelInferErrors(t *testing.T) {
	s := start(t, servertest.TestRepo(t), options{})
	in := func(name, dt string, shape []int64, c *pb.InferTensorContents) *pb.ModelInferRequest_InferInputTensor {
		return &pb.ModelInferRequest_InferInputTensor{Name: name, Datatype: dt, Shape: shape, Contents: c}
	}
	f32 := func(v ...float32) *pb.InferTensorContents { return &pb.InferTensorContents{Fp32Contents: v} }
	iris := func(inputs ...*pb.ModelInferRequest_InferInputTensor) *pb.ModelInferRequest {
		return &pb.ModelInferRequest{ModelName: "iris", Inputs: inputs}
	}
	rawIris := func(raw ...[]byte) *pb.ModelInferRequest {
		r := iris(in("X", "FP32", []int64{1, 4}, nil))
		r.RawInputContents = raw
		return r
	}
	mixed := rawIris(f32raw(setosa...))
	mixed.Inputs = append(mixed.Inputs, in("X2", "FP32", []int64{1, 4}, f32(setosa...)))
	withContents := rawIris(f32raw(setosa...))
	withContents.Inputs[0].Contents = f32(setosa...)
	twoOutputs := iris(irisInput([]int64{1, 4}, setosa...))
	twoOutputs.Outputs = []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "label"}, {Name: "label"}}
	unknownOutput := iris(irisInput([]int64{1, 4}, setosa...))
	unknownOutput.Outputs = []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "nope"}}
	badClasses := iris(irisInput([]int64{1, 4}, setosa...))
	badClasses.Outputs = []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "probabilities", Parameters: map[string]*pb.InferParameter{
		"classification": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: "2"}}}}}
	badTimeout := iris(irisInput([]int64{1, 4}, setosa...))
	badTimeout.Parameters = map[string]*pb.InferParameter{"timeout": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: -200000}}}
	shm := iris(irisInput([]int64{1, 4}, setosa...))
	shm.Inputs[0].Parameters = map[string]*pb.InferParameter{"shared_memory_region": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: "r"}}}
	// dtypes has one input of every plain type; each case below breaks one.
	dtypes := func(name string, c *pb.InferTensorContents) *pb.ModelInferRequest {
		return &pb.ModelInferRequest{ModelName: "dtypes", Inputs: []*pb.ModelInferRequest_InferInputTensor{in(name, map[string]string{
			"i8": "INT8", "u16": "UINT16", "s": "BYTES", "b": "BOOL"}[name], []int64{1, 2}, c)}}
	}
	half := &pb.ModelInferRequest{ModelName: "halfid", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		in("x16", "FP16", []int64{1}, f32(1)), in("xb", "BF16", []int64{1}, nil)}}

	for _, c := range []struct {
		name string
		req  *pb.ModelInferRequest
		code codes.Code
		want string
	}{
		{"unknown model", &pb.ModelInferRequest{ModelName: "nope"}, codes.NotFound, `model "nope" not found`},
		{"unknown version", &pb.ModelInferRequest{ModelName: "iris", ModelVersion: "99"}, codes.NotFound, `model "iris" has no version "99"`},
		{"unknown input", iris(in("Y", "FP32", []int64{1, 4}, f32(setosa...))), codes.InvalidArgument, "unexpected inference input 'Y' for model 'iris'"},
		{"missing input", iris(), codes.InvalidArgument, `missing input(s) "X"`},
		{"duplicate input", iris(irisInput([]int64{1, 4}, setosa...), irisInput([]int64{1, 4}, setosa...)), codes.InvalidArgument, "input 'X' appears twice"},
		{"wrong datatype", iris(in("X", "FP64", []int64{1, 4}, &pb.InferTensorContents{Fp64Contents: []float64{1, 2, 3, 4}})), codes.InvalidArgument, "inference input 'X' data-type is 'FP64', but model 'iris' expects 'FP32'"},
		{"unknown datatype", iris(in("X", "FLOAT", []int64{1, 4}, f32(setosa...))), codes.InvalidArgument, "input 'X': unknown datatype 'FLOAT'"},
		{"wrong rank", iris(irisInput([]int64{4}, setosa...)), codes.InvalidArgument, "unexpected shape for input 'X' for model 'iris'. Expected [-1, 4], got [4]"},
		{"wrong fixed dim", iris(irisInput([]int64{1, 3}, 1, 2, 3)), codes.InvalidArgument, "Expected [-1, 4], got [1, 3]"},
		{"negative dim", iris(irisInput([]int64{-1, 4}, setosa...)), codes.InvalidArgument, "input 'X': dimension 0 of shape [-1, 4] is negative"},
		{"batch over max_batch_size", iris(irisInput([]int64{65, 4}, make([]float32, 260)...)), codes.InvalidArgument, "batch-size must be <= 64 for 'iris', input 'X' has 65"},
		{"shape product overflows", iris(irisInput([]int64{1 << 62, 4}, setosa...)), codes.InvalidArgument, "input 'X': shape [4611686018427387904, 4] has more elements than a request of 1048576 bytes can carry"},
		{"count not the shape's", iris(irisInput([]int64{2, 4}, setosa...)), codes.InvalidArgument, "input 'X': shape [2, 4] has 8 elements, but fp32_contents holds 4"},
		{"contents in another type's field", iris(in("X", "FP32", []int64{1, 4}, &pb.InferTensorContents{Fp64Contents: []float64{1, 2, 3, 4}})), codes.InvalidArgument, "input 'X' is FP32, whose elements go in fp32_contents, but fp64_contents holds 4"},
		{"no contents at all", iris(in("X", "FP32", []int64{1, 4}, nil)), codes.InvalidArgument, "input 'X': shape [1, 4] has 4 elements, but fp32_contents holds 0"},
		{"INT8 out of range", dtypes("i8", &pb.InferTensorContents{IntContents: []int32{1, 300}}), codes.InvalidArgument, "input 'i8': element 1 is 300, out of range for INT8 [-128, 127]"},
		{"UINT16 out of range", dtypes("u16", &pb.InferTensorContents{UintContents: []uint32{70000, 1}}), codes.InvalidArgument, "input 'u16': element 0 is 70000, out of range for UINT16 [0, 65535]"},
		{"NUL in a BYTES element", dtypes("s", &pb.InferTensorContents{BytesContents: [][]byte{[]byte("a\x00b"), nil}}), codes.InvalidArgument, "input 's': element 0 holds a NUL byte"},
		{"BOOL in int_contents", dtypes("b", &pb.InferTensorContents{IntContents: []int32{1, 0}}), codes.InvalidArgument, "input 'b' is BOOL, whose elements go in bool_contents, but int_contents holds 2"},
		{"FP16 typed", half, codes.InvalidArgument, "input 'x16' is FP16, which has no typed contents: send it as raw_input_contents"},
		{"raw size not the shape's", rawIris(f32raw(1, 2, 3)), codes.InvalidArgument, "input 'X' (raw_input_contents[0]): the raw data is 12 bytes, but 4 FP32 elements of shape [1, 4] take 16"},
		{"raw entries not one per input", rawIris(f32raw(setosa...), f32raw(setosa...)), codes.InvalidArgument, "raw_input_contents has 2 entries for 1 inputs"},
		{"raw and typed mixed", mixed, codes.InvalidArgument, "raw_input_contents has 1 entries for 2 inputs"},
		{"raw with contents", withContents, codes.InvalidArgument, "input 'X' has contents, but the request sends raw_input_contents"},
		{"raw BYTES cut short", &pb.ModelInferRequest{ModelName: "strings", Inputs: []*pb.ModelInferRequest_InferInputTensor{in("text", "BYTES", []int64{1}, nil)}, RawInputContents: [][]byte{{9, 0, 0, 0, 'a'}}},
			codes.InvalidArgument, "input 'text' (raw_input_contents[0]): BYTES element 0 is 9 bytes long, but only 1 bytes are left"},
		{"unknown output", unknownOutput, codes.InvalidArgument, "unexpected inference output 'nope' for model 'iris'"},
		{"output twice", twoOutputs, codes.InvalidArgument, "output 'label' is requested twice"},
		{"classification not int64", badClasses, codes.InvalidArgument, "output 'probabilities': parameter 'classification' must be an int64_param"},
		{"negative timeout", badTimeout, codes.InvalidArgument, "parameter 'timeout' is -200000: microseconds, 0 (none) or more"},
		{"shared memory", shm, codes.InvalidArgument, "input 'X': the shared-memory extension is not supported"},
		{"ZipMap output", &pb.ModelInferRequest{ModelName: "zipmap", Inputs: []*pb.ModelInferRequest_InferInputTensor{in("x", "FP32", []int64{1, 3}, f32(1, 2, 3))},
			Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "output_probability"}}}, codes.InvalidArgument, "output 'output_probability' is a sequence of maps (ZipMap)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.client.ModelInfer(t.Context(), c.req)
			if code, msg := codeOf(err); code != c.code || !strings.Contains(msg, c.want) {
				t.Errorf("got %v %q, want %v containing %q", code, msg, c.code, c.want)
			}
			s.ready(t, c.name)
		})
	}
}
