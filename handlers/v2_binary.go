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
	"reflect"
	"slices"
	"unsafe"

	"github.com/onnxserve/onnxserve/runtime"
)

// nativeLE is whether this machine stores numbers little-endian, as the
// binary tensor format does.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// decodeBinary reads one tensor of type dt and shape from raw, which must
// hold exactly its elements. The tensor may share raw's memory: raw must
// stay unchanged, and must not be recycled, while the tensor is in use.
func decodeBinary(dt runtime.DType, shape []int64, raw []byte) (runtime.Tensor, error) {
	n := runtime.NumElements(shape)
	t := runtime.Tensor{DType: dt, Shape: shape}
	if dt == runtime.String {
		s, err := decodeStrings(raw)
		if err == nil && len(s) != n {
			err = fmt.Errorf("shape %s has %d elements, but the binary data holds %d", runtime.FormatShape(shape), n, len(s))
		}
		t.Data = s
		return t, err
	}
	if want := n * dt.Size(); len(raw) != want {
		return t, fmt.Errorf("binary_data_size is %d bytes, but %d %s elements of shape %s take %d", len(raw), n, dt.V2Name(), runtime.FormatShape(shape), want)
	}
	switch dt {
	case runtime.Float16, runtime.BFloat16:
		t.Data = runtime.DecodeHalf(dt, raw)
		return t, nil
	case runtime.Bool:
		// Go's bool must be 0 or 1 underneath; anything else is not a BOOL.
		if i := slices.IndexFunc(raw, func(b byte) bool { return b > 1 }); i >= 0 {
			return t, fmt.Errorf("BOOL element %d is byte %d; must be 0 or 1", i, raw[i])
		}
	}
	if nativeLE {
		t.Data = viewAs(dt, raw)
		return t, nil
	}
	t.Data = runtime.NewBuffer(dt, n)
	if _, err := binary.Decode(raw, binary.LittleEndian, t.Data); err != nil {
		return t, fmt.Errorf("decode %s: %w", dt.V2Name(), err)
	}
	return t, nil
}

// viewAs is raw, whose size fits, as the Go slice runtime.NewBuffer(dt)
// would hold, on a little-endian machine: raw itself when it is aligned
// for the element type, else one copy. BOOL bytes must be 0 or 1.
func viewAs(dt runtime.DType, raw []byte) any {
	buf := runtime.NewBuffer(dt, 0) // not nil: that could pass for a missing input
	elem := reflect.TypeOf(buf).Elem()
	n := len(raw) / int(elem.Size())
	if n == 0 {
		return buf
	}
	if p := unsafe.Pointer(unsafe.SliceData(raw)); uintptr(p)%uintptr(elem.Align()) == 0 {
		return reflect.SliceAt(elem, p, n).Interface() // cap n: an append never writes into raw
	}
	buf = runtime.NewBuffer(dt, n)
	mem, _ := memoryOf(buf)
	copy(mem, raw)
	return buf
}

// memoryOf is the memory of data as bytes, when data is a slice of
// numbers or bools; false for anything else.
func memoryOf(data any) ([]byte, bool) {
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Slice {
		return nil, false
	}
	elem := v.Type().Elem()
	if k := elem.Kind(); k < reflect.Bool || k > reflect.Float64 {
		return nil, false
	}
	return unsafe.Slice((*byte)(v.UnsafePointer()), v.Len()*int(elem.Size())), true
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
func appendBinary(b []byte, t runtime.Tensor) ([]byte, error) {
	switch d := t.Data.(type) {
	case []string:
		for _, s := range d {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		return b, nil
	case []float32:
		if t.DType == runtime.Float16 || t.DType == runtime.BFloat16 {
			return append(b, runtime.EncodeHalf(t.DType, d)...), nil
		}
	}
	if raw, ok := memoryOf(t.Data); ok && nativeLE {
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
			return nil, BadRequest("a raw binary request cannot deduce the shape %s of input '%s': more than one dynamic dimension", runtime.FormatShape(spec.Shape), spec.Name)
		default:
			open = k
		}
	}
	n := 0
	if spec.DType == runtime.String {
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
		return nil, BadRequest("input '%s' of shape %s: %v", spec.Name, runtime.FormatShape(shape), err)
	}
	req := &v2Request{inputs: []runtime.Tensor{t}}
	for i, out := range sig.Outputs {
		if out.DType.V2Name() != "" {
			req.outputs = append(req.outputs, v2Output{index: i, binary: true})
		}
	}
	return req, nil
}
