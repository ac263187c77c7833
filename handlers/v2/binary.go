package v2

// Triton's binary tensor data extension: tensors as raw little-endian
// bytes after the JSON header, row-major, BOOL as one byte 0 or 1, BYTES
// as a 4-byte little-endian length followed by that many bytes. On a
// little-endian machine those bytes are already the typed buffer ORT
// reads: decoding checks their size and uses them in place (one memmove
// when they are not aligned for their type); no JSON and no number
// parsing is involved.

import (
	"slices"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// decodeRawV2 reads a raw binary request (Inference-Header-Content-Length:
// 0): the body is the data of the model's only input, whose shape is its
// declared one with a dynamic batch dimension taken as 1 and at most one
// other dynamic dimension, deduced from the body's size. Every output is
// returned, as binary.
func decodeRawV2(body []byte, m *runtime.Model) (*v2Request, error) {
	sig := &m.Signature
	if len(sig.Inputs) != 1 {
		return nil, badRequest("a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; '%s' has %d", m.Name, len(sig.Inputs))
	}
	spec := sig.Inputs[0]
	shape := slices.Clone(spec.Shape)
	if len(shape) > 0 && shape[0] < 0 {
		shape[0] = 1
	}
	open, known := -1, 1
	for k, d := range shape {
		switch {
		case d >= 0:
			known *= int(d)
		case open >= 0:
			return nil, badRequest("a raw binary request cannot deduce the shape %s of input '%s': more than one dynamic dimension", tensor.FormatShape(spec.Shape), spec.Name)
		default:
			open = k
		}
	}
	n := 0
	if spec.DType == tensor.String {
		s, err := inference.DecodeStrings(body)
		if err != nil {
			return nil, badRequest("input '%s': %v", spec.Name, err)
		}
		n = len(s)
	} else if n = len(body) / spec.DType.Size(); len(body)%spec.DType.Size() != 0 {
		return nil, badRequest("input '%s': %d bytes is not a whole number of %s elements", spec.Name, len(body), spec.DType.V2Name())
	}
	if open >= 0 {
		shape[open] = 0 // with a zero dimension elsewhere, no data fits any size
		if known > 0 {
			shape[open] = int64(n / known)
		}
	}
	t, err := inference.DecodeRaw(spec.DType, shape, body)
	if err != nil {
		return nil, badRequest("input '%s' of shape %s: %v", spec.Name, tensor.FormatShape(shape), err)
	}
	// No outputs named: every tensor output, as binary.
	return &v2Request{core: inference.Request{Inputs: []tensor.Tensor{t}}, binaryAll: true}, nil
}
