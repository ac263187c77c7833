package handlers

import (
	"strconv"

	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// appendV2Response writes an inference response: its JSON header to head
// and the bytes of the outputs sent as binary to bin, in the order the
// header lists them. JSON data is flat, row-major, as Triton sends it.
// batch is the request's batch size (0 when the model has none), which
// decides whether a classification result has a batch dimension.
func appendV2Response(head, bin []byte, m *runtime.Model, req *v2Request, outs []tensor.Tensor, batch int) ([]byte, []byte, error) {
	head = append(head, `{"model_name":`...)
	head = jsontensor.AppendString(head, m.Name)
	head = append(head, `,"model_version":`...)
	head = jsontensor.AppendString(head, m.Version)
	if req.hasID {
		head = append(head, `,"id":`...)
		head = jsontensor.AppendString(head, req.id)
	}
	head = append(head, `,"outputs":[`...)
	for j, o := range req.outputs {
		t := outs[o.index]
		if o.classes > 0 {
			spec := m.Signature.Outputs[o.index]
			batched := batch > 0 && len(spec.Shape) > 0 && spec.Shape[0] < 0 && len(t.Shape) > 0
			var labels []string
			if o.index == m.ScoresOutput() {
				labels = m.Config.Labels
			}
			var err error
			if t, err = classify(t, o.classes, batched, labels); err != nil {
				return head, bin, err
			}
		}
		if j > 0 {
			head = append(head, ',')
		}
		head = append(head, `{"name":`...)
		head = jsontensor.AppendString(head, m.Signature.Outputs[o.index].Name)
		head = append(head, `,"datatype":`...)
		head = jsontensor.AppendString(head, t.DType.V2Name())
		head = append(head, `,"shape":`...)
		head = jsontensor.AppendTensor(head, tensor.Tensor{DType: tensor.Int64, Shape: []int64{int64(len(t.Shape))}, Data: t.Shape})
		if o.binary {
			n := len(bin)
			var err error
			if bin, err = appendBinary(bin, t); err != nil {
				return head, bin, err
			}
			head = append(head, `,"parameters":{"binary_data_size":`...)
			head = strconv.AppendInt(head, int64(len(bin)-n), 10)
			head = append(head, "}}"...)
			continue
		}
		head = append(head, `,"data":`...)
		head = jsontensor.AppendTensor(head, tensor.Tensor{DType: t.DType, Shape: []int64{int64(t.Len())}, Data: t.Data})
		head = append(head, '}')
	}
	return append(head, "]}"...), bin, nil
}

// anyBinary reports whether a response to req carries binary data, and so
// needs the Inference-Header-Content-Length header.
func (req *v2Request) anyBinary() bool {
	for _, o := range req.outputs {
		if o.binary {
			return true
		}
	}
	return false
}
