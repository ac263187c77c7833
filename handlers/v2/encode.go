package v2

import (
	"strconv"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// appendResponse writes an inference response: its JSON header to head
// and the bytes of the outputs sent as binary to bin, in the order the
// header lists them; binary says whether bin is part of the response.
// JSON data is flat, row-major, as Triton sends it; a BYTES output with an
// element that is not valid UTF-8 is sent as base64, with the parameter
// content_type "base64" saying so.
func appendResponse(head, bin []byte, req *v2Request, resp *inference.Response) (_, _ []byte, binary bool, err error) {
	m := resp.Model
	head = append(head, `{"model_name":`...)
	head = jsontensor.AppendString(head, m.Name)
	head = append(head, `,"model_version":`...)
	head = jsontensor.AppendString(head, m.Version)
	if req.hasID {
		head = append(head, `,"id":`...)
		head = jsontensor.AppendString(head, req.id)
	}
	head = append(head, `,"outputs":[`...)
	for j, o := range resp.Outputs {
		t := o.Tensor
		if j > 0 {
			head = append(head, ',')
		}
		head = append(head, `{"name":`...)
		head = jsontensor.AppendString(head, o.Name)
		head = append(head, `,"datatype":`...)
		head = jsontensor.AppendString(head, t.DType.V2Name())
		head = append(head, `,"shape":`...)
		head = jsontensor.AppendTensor(head, tensor.Tensor{DType: tensor.Int64, Shape: []int64{int64(len(t.Shape))}, Data: t.Shape})
		if req.binary(j) {
			binary = true
			n := len(bin)
			if bin, err = inference.AppendRaw(bin, t); err != nil {
				return head, bin, binary, err
			}
			head = append(head, `,"parameters":{"binary_data_size":`...)
			head = strconv.AppendInt(head, int64(len(bin)-n), 10)
			head = append(head, "}}"...)
			continue
		}
		flat := tensor.Tensor{DType: t.DType, Shape: []int64{int64(t.Len())}, Data: t.Data}
		if jsontensor.NeedsBase64(flat) {
			head = append(head, `,"parameters":{"content_type":"`+jsontensor.Base64+`"},"data":`...)
			head = jsontensor.AppendBase64(head, flat)
		} else {
			head = append(head, `,"data":`...)
			head = jsontensor.AppendTensor(head, flat)
		}
		head = append(head, '}')
	}
	return append(head, "]}"...), bin, binary, nil
}

// answerSizes are guesses at the sizes of resp's JSON header and binary
// part, for the buffers they are written into: the binary outputs' bytes
// (a string's 4-byte length counted as its 16-byte header), and about 24
// bytes a JSON value. A guess short of the answer costs a growth.
func answerSizes(req *v2Request, resp *inference.Response) (head, bin int) {
	head = 512
	for j, o := range resp.Outputs {
		head += 128
		if req.binary(j) {
			bin += int(inference.TensorBytes([]tensor.Tensor{o.Tensor}))
		} else {
			head += 24 * o.Tensor.Len()
		}
	}
	return head, bin
}
