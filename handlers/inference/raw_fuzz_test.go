package inference

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// FuzzDecodeRaw's datatypes: every one with a raw layout.
var rawTypes = []tensor.DType{tensor.Bool, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64,
	tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Float16, tensor.BFloat16,
	tensor.Float32, tensor.Float64, tensor.String}

// FuzzDecodeRaw feeds raw tensor bytes of every datatype and shape; what
// it accepts must be a tensor ORT can be handed, and go back out as the
// same bytes.
func FuzzDecodeRaw(f *testing.F) {
	f.Add(uint8(0), uint8(1), uint8(2), []byte{1, 0})
	f.Add(uint8(9), uint8(1), uint8(2), []byte{0, 0x3c, 0, 0xc0})
	f.Add(uint8(13), uint8(1), uint8(2), binary.LittleEndian.AppendUint32([]byte{1, 0, 0, 0, 'x'}, 0))
	f.Add(uint8(11), uint8(0), uint8(4), []byte{})
	f.Fuzz(func(t *testing.T, kind, d0, d1 uint8, raw []byte) {
		dt := rawTypes[int(kind)%len(rawTypes)]
		shape := []int64{int64(d0 % 16), int64(d1 % 16)}
		ts, err := DecodeRaw(dt, shape, raw)
		if err != nil {
			return
		}
		if err := ts.Check(); err != nil || !slices.Equal(ts.Shape, shape) {
			t.Fatalf("accepted %s of shape %v for %v: %v", dt.V2Name(), ts.Shape, shape, err)
		}
		// What was accepted goes back out as the same bytes.
		back, err := AppendRaw(nil, ts)
		if err != nil || !sameBinary(dt, back, raw) {
			t.Fatalf("%s round trip: %v %x → %x", dt.V2Name(), err, raw, back)
		}
	})
}

// sameBinary compares raw tensor bytes; FP16 and BF16 go through float32,
// so a NaN may come back with another payload, but as a NaN.
func sameBinary(dt tensor.DType, got, want []byte) bool {
	var exp, frac uint16
	switch dt {
	case tensor.Float16:
		exp, frac = 0x7c00, 0x03ff
	case tensor.BFloat16:
		exp, frac = 0x7f80, 0x007f
	default:
		return slices.Equal(got, want)
	}
	if len(got) != len(want) || len(got)%2 != 0 {
		return false
	}
	nan := func(h uint16) bool { return h&exp == exp && h&frac != 0 }
	for i := 0; i < len(got); i += 2 {
		g, w := binary.LittleEndian.Uint16(got[i:]), binary.LittleEndian.Uint16(want[i:])
		if g != w && !(nan(g) && nan(w)) {
			return false
		}
	}
	return true
}
