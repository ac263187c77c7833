package inference

// The raw tensor layout of the Open Inference Protocol: Triton's binary
// tensor data extension over REST, and raw_input_contents /
// raw_output_contents over gRPC. Elements are little-endian, row-major,
// unpadded; BOOL is one byte 0 or 1; BYTES is a 4-byte little-endian
// length followed by that many bytes; FP16 and BF16 are their 16-bit
// forms. On a little-endian machine those bytes are already the typed
// buffer ORT reads: decoding checks their size and uses them in place (one
// memmove when they are not aligned for their type).

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// DecodeRaw reads one tensor of type dt and shape from raw, which must
// hold exactly its elements. The tensor may share raw's memory: raw must
// stay unchanged, and must not be recycled, while the tensor is in use.
func DecodeRaw(dt tensor.DType, shape []int64, raw []byte) (tensor.Tensor, error) {
	n := tensor.NumElements(shape)
	t := tensor.Tensor{DType: dt, Shape: shape}
	if dt == tensor.String {
		s, err := DecodeStrings(raw)
		if err == nil && len(s) != n {
			err = fmt.Errorf("shape %s has %d elements, but the raw data holds %d", tensor.FormatShape(shape), n, len(s))
		}
		t.Data = s
		return t, err
	}
	if want := n * dt.Size(); len(raw) != want {
		return t, fmt.Errorf("the raw data is %d bytes, but %d %s elements of shape %s take %d", len(raw), n, dt.V2Name(), tensor.FormatShape(shape), want)
	}
	switch {
	case dt.IsHalf():
		t.Data = tensor.DecodeHalf(dt, raw)
		return t, nil
	case dt == tensor.Bool:
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

// DecodeStrings reads every length-prefixed BYTES element of raw.
func DecodeStrings(raw []byte) ([]string, error) {
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

// AppendRaw appends t in the raw layout.
func AppendRaw(b []byte, t tensor.Tensor) ([]byte, error) {
	switch {
	case t.DType == tensor.String:
		for _, s := range t.Data.([]string) {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		return b, nil
	case t.DType.IsHalf():
		return append(b, tensor.EncodeHalf(t.DType, t.Data.([]float32))...), nil
	}
	if raw, ok := t.Memory(); ok {
		return append(b, raw...), nil
	}
	return binary.Append(b, binary.LittleEndian, t.Data)
}
