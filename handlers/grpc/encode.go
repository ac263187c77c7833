package grpc

import (
	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/inference"
)

// encode answers with every output in raw_output_contents, in the order
// of the response's outputs, as Triton answers: the one layout every
// datatype has, FP16 and BF16 included, and the cheapest to make. Numeric
// outputs are not copied: their Go buffers, which nothing recycles, are
// the raw bytes on a little-endian machine.
func encode(resp *inference.Response, id string) (*pb.ModelInferResponse, error) {
	out := &pb.ModelInferResponse{
		ModelName:         resp.Model.Name,
		ModelVersion:      resp.Model.Version,
		Id:                id,
		Outputs:           make([]*pb.ModelInferResponse_InferOutputTensor, len(resp.Outputs)),
		RawOutputContents: make([][]byte, len(resp.Outputs)),
	}
	for j, o := range resp.Outputs {
		shape := o.Tensor.Shape
		if shape == nil {
			shape = []int64{}
		}
		out.Outputs[j] = &pb.ModelInferResponse_InferOutputTensor{Name: o.Name, Datatype: o.Tensor.DType.V2Name(), Shape: shape}
		raw, ok := o.Tensor.Memory()
		if !ok {
			var err error
			if raw, err = inference.AppendRaw(nil, o.Tensor); err != nil {
				return nil, &inference.Error{Kind: inference.Internal, Message: "output '" + o.Name + "': " + err.Error(), Err: err}
			}
		}
		out.RawOutputContents[j] = raw
	}
	return out, nil
}
