package grpc

import (
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// dtypesModel is runtime/testdata/dtypes.onnx, one input of every plain
// type, loaded once for the fuzz target (ONNX Runtime is started by the
// package's TestMain).
var dtypesModel = sync.OnceValues(func() (*runtime.Model, error) {
	return runtime.LoadModel("dtypes", "1", "../../runtime/testdata/dtypes.onnx", &runtime.Config{},
		runtime.LoadOptions{Limiter: runtime.NewLimiter(1), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
})

// FuzzDecode feeds ModelInferRequest messages, as bytes off the wire, to
// the codec's unmarshalInfer and the decoder. unmarshalInfer must read
// exactly what proto.Unmarshal reads; the decoder must never panic, and
// what it accepts must be inputs of the model's datatypes whose data holds
// exactly their shape's elements, which the core then checks without
// failing on its own account.
func FuzzDecode(f *testing.F) {
	m, err := dtypesModel()
	if err != nil {
		f.Fatal(err)
	}
	seed := func(r *pb.ModelInferRequest) {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	in := func(name, dt string, shape []int64, c *pb.InferTensorContents) *pb.ModelInferRequest_InferInputTensor {
		return &pb.ModelInferRequest_InferInputTensor{Name: name, Datatype: dt, Shape: shape, Contents: c}
	}
	seed(&pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{
		in("f32", "FP32", []int64{1, 2}, &pb.InferTensorContents{Fp32Contents: []float32{1, 2}}),
		in("i8", "INT8", []int64{1, 2}, &pb.InferTensorContents{IntContents: []int32{-128, 127}}),
		in("u16", "UINT16", []int64{1, 2}, &pb.InferTensorContents{UintContents: []uint32{0, 65535}}),
		in("b", "BOOL", []int64{1, 2}, &pb.InferTensorContents{BoolContents: []bool{true, false}}),
		in("s", "BYTES", []int64{1, 2}, &pb.InferTensorContents{BytesContents: [][]byte{[]byte("a"), nil}}),
	}, Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "f32_out", Parameters: map[string]*pb.InferParameter{
		"classification": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 1}}}}}})
	seed(&pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{
		in("f64", "FP64", []int64{1, 2}, nil), in("s", "BYTES", []int64{1, 1}, nil),
	}, RawInputContents: [][]byte{make([]byte, 16), {1, 0, 0, 0, 'x'}}})
	seed(&pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{in("i64", "INT64", []int64{1 << 40, 1 << 40, 2}, nil)}, RawInputContents: [][]byte{nil}})
	// Raw contents before, between and after the other fields, as no
	// generated marshaller writes them.
	raw := protowire.AppendTag(nil, 7, protowire.BytesType)
	raw = protowire.AppendBytes(raw, make([]byte, 16))
	head, _ := proto.Marshal(&pb.ModelInferRequest{ModelName: "dtypes", Inputs: []*pb.ModelInferRequest_InferInputTensor{in("f64", "FP64", []int64{1, 2}, nil)}})
	tail, _ := proto.Marshal(&pb.ModelInferRequest{Id: "x"})
	f.Add(append(append(append(raw, head...), raw...), tail...))

	f.Fuzz(func(t *testing.T, wire []byte) {
		req, want := &pb.ModelInferRequest{}, &pb.ModelInferRequest{}
		err, werr := unmarshalInfer(wire, req), proto.Unmarshal(wire, want)
		if (err == nil) != (werr == nil) || err == nil && !proto.Equal(req, want) {
			t.Fatalf("unmarshalInfer: %v, %v; proto.Unmarshal: %v, %v", req, err, want, werr)
		}
		if err != nil {
			return
		}
		r, err := decode(m, req, len(wire))
		if err != nil {
			if e := inference.From(err); e.Kind != inference.InvalidArgument {
				t.Fatalf("refused with kind %v, not InvalidArgument: %v", e.Kind, err)
			}
			return
		}
		for i, ts := range r.Inputs {
			if ts.Data == nil {
				continue
			}
			spec := m.Signature.Inputs[i]
			if ts.DType != spec.DType || ts.Check() != nil || ts.Len() != tensor.NumElements(ts.Shape) || !slices.Equal(ts.Shape, req.Inputs[slices.IndexFunc(req.Inputs, func(x *pb.ModelInferRequest_InferInputTensor) bool { return x.GetName() == spec.Name })].GetShape()) && len(ts.Shape) > 0 {
				t.Fatalf("accepted input %s as %v of shape %v holding %d elements", spec.Name, ts.DType, ts.Shape, ts.Len())
			}
		}
		if err := inference.Check(m, r); err != nil {
			if e := inference.From(err); e.Kind != inference.InvalidArgument {
				t.Fatalf("the core refused a decoded request with kind %v: %v", e.Kind, err)
			}
		}
	})
}
