package handlers

// Triton's binary tensor data extension: tensors as raw little-endian
// bytes after the JSON header, row-major, BOOL as one byte 0 or 1, BYTES
// as a 4-byte little-endian length followed by that many bytes. On a
// little-endian machine those bytes are already the typed buffer ORT
// reads: decoding checks their size and uses them in place (one memmove
// when they are not aligned for their type); no JSON and no number
// parsing is involved.

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// decodeBinary reads one tensor of type dt and shape from raw, which must
// hold exactly its elements. The tensor may share raw's memory: raw must
// stay unchanged, and must not be recycled, while the tensor is in use.
func decodeBinary(dt tensor.DType, shape []int64, raw []byte) (tensor.Tensor, error) {
	n := tensor.NumElements(shape)
	t := tensor.Tensor{DType: dt, Shape: shape}
	if dt == tensor.String {
		s, err := decodeStrings(raw)
		if err == nil && len(s) != n {
			err = fmt.Errorf("shape %s has %d elements, but the binary data holds %d", tensor.FormatShape(shape), n, len(s))
		}
		t.Data = s
		return t, err
	}
	if want := n * dt.Size(); len(raw) != want {
		return t, fmt.Errorf("binary_data_size is %d bytes, but %d %s elements of shape %s take %d", len(raw), n, dt.V2Name(), tensor.FormatShape(shape), want)
	}
	switch dt {
	case tensor.Float16, tensor.BFloat16:
		t.Data = tensor.DecodeHalf(dt, raw)
		return t, nil
	case tensor.Bool:
		// Go's bool must be 0 or 1 underneath; anything else is not a BOOL.
		if i := slices.IndexFunc(raw, func(b byte) bool { return b > 1 }); i >= 0 {
			return t, fmt.Errorf("BOOL element %d is byte %d; must be 0 or 1", i, raw[i])
		}
	}
	if data, ok := tensor.View(dt, raw); ok {
		t.Data = data
		return t, nil
	}
	t.Data = tensor.NewBuffer(dt, n)
	if _, err := binary.Decode(raw, binary.LittleEndian, t.Data); err != nil {
		return t, fmt.Errorf("decode %s: %w", dt.V2Name(), err)
	}
	return t, nil
}

// decodeStrings reads every length-prefixed BYTES element of raw.
func decodeStrings(raw []byte) ([]string, error) {
	out := make([]string, 0, min(len(raw)/4, 1<<16))
	for p := 0; p < len(raw); {
		if len(raw)-p < 4 {
			return out, fmt.Errorf("BYTES element %d is cut short: %d bytes left, too few for its 4-byte length", len(out), len(raw)-p)
		}
		l := binary.LittleEndian.Uint32(raw[p:])
		p += 4
		if uint64(l) > uint64(len(raw)-p) {
			return out, fmt.Errorf("BYTES element %d is %d bytes long, but only %d bytes are left", len(out), l, len(raw)-p)
		}
		out = append(out, string(raw[p:p+int(l)]))
		p += int(l)
	}
	return out, nil
}

// appendBinary appends t in the binary tensor format.
func appendBinary(b []byte, t tensor.Tensor) ([]byte, error) {
	switch d := t.Data.(type) {
	case []string:
		for _, s := range d {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		return b, nil
	case []float32:
		if t.DType == tensor.Float16 || t.DType == tensor.BFloat16 {
			return append(b, tensor.EncodeHalf(t.DType, d)...), nil
		}
	}
	if raw, ok := t.Memory(); ok {
		return append(b, raw...), nil
	}
	return binary.Append(b, binary.LittleEndian, t.Data)
}

// decodeRawV2 reads a raw binary request (Inference-Header-Content-Length:
// 0): the body is the data of the model's only input, whose shape is its
// declared one with a dynamic batch dimension taken as 1 and at most one
// other dynamic dimension, deduced from the body's size. Every output is
// returned, as binary.
func decodeRawV2(body []byte, m *runtime.Model) (*v2Request, error) {
	sig := &m.Signature
	if len(sig.Inputs) != 1 {
		return nil, BadRequest("a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; '%s' has %d", m.Name, len(sig.Inputs))
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
			return nil, BadRequest("a raw binary request cannot deduce the shape %s of input '%s': more than one dynamic dimension", tensor.FormatShape(spec.Shape), spec.Name)
		default:
			open = k
		}
	}
	n := 0
	if spec.DType == tensor.String {
		s, err := decodeStrings(body)
		if err != nil {
			return nil, BadRequest("input '%s': %v", spec.Name, err)
		}
		n = len(s)
	} else if n = len(body) / spec.DType.Size(); len(body)%spec.DType.Size() != 0 {
		return nil, BadRequest("input '%s': %d bytes is not a whole number of %s elements", spec.Name, len(body), spec.DType.V2Name())
	}
	if open >= 0 {
		shape[open] = 0 // with a zero dimension elsewhere, no data fits any size
		if known > 0 {
			shape[open] = int64(n / known)
		}
	}
	t, err := decodeBinary(spec.DType, shape, body)
	if err != nil {
		return nil, BadRequest("input '%s' of shape %s: %v", spec.Name, tensor.FormatShape(shape), err)
	}
	req := &v2Request{inputs: []tensor.Tensor{t}}
	for i, out := range sig.Outputs {
		if out.DType.V2Name() != "" {
			req.outputs = append(req.outputs, v2Output{index: i, binary: true})
		}
	}
	return req, nil
}
