package inference

import (
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// DecodeRaw uses aligned bytes in place and copies misaligned ones once;
// the values are the same either way.
func TestDecodeRawInPlace(t *testing.T) {
	want := []float64{1.5, -2, math.Inf(1), 0x1p-1074}
	buf := make([]byte, 8, 8+8*len(want)) // Go aligns the start to at least 8
	for _, f := range want {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(f))
	}
	odd := append(make([]byte, 1, len(buf)), buf[8:]...)[1:]
	shape := []int64{2, 2}
	for _, c := range []struct {
		name    string
		raw     []byte
		inPlace bool
	}{
		{"aligned", buf[8:], true},
		{"misaligned", odd, false},
	} {
		ts, err := DecodeRaw(tensor.Float64, shape, c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := ts.Data.([]float64)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", c.name, got, want)
		}
		shared := unsafe.Pointer(unsafe.SliceData(got)) == unsafe.Pointer(unsafe.SliceData(c.raw))
		if nativeLE := binary.NativeEndian.Uint16([]byte{1, 0}) == 1; nativeLE && shared != c.inPlace {
			t.Errorf("%s: shares the body's memory: %v, want %v", c.name, shared, c.inPlace)
		}
		if cap(got) != len(want) {
			t.Errorf("%s: cap %d: an append could write into the body", c.name, cap(got))
		}
	}
}

// TestRawLayout pins the layout of each datatype against bytes written by
// encoding/binary and the IEEE half-float tables, both ways.
func TestRawLayout(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		t   tensor.Tensor
		raw []byte
	}{
		{tensor.Tensor{DType: tensor.Float32, Shape: []int64{2}, Data: []float32{1, -0.5}}, le.AppendUint32(le.AppendUint32(nil, math.Float32bits(1)), math.Float32bits(-0.5))},
		{tensor.Tensor{DType: tensor.Int64, Shape: []int64{1, 1}, Data: []int64{-2}}, le.AppendUint64(nil, uint64(math.MaxUint64-1))},
		{tensor.Tensor{DType: tensor.Uint16, Shape: []int64{2}, Data: []uint16{1, 0xff00}}, []byte{1, 0, 0, 0xff}},
		{tensor.Tensor{DType: tensor.Bool, Shape: []int64{3}, Data: []bool{true, false, true}}, []byte{1, 0, 1}},
		{tensor.Tensor{DType: tensor.Float16, Shape: []int64{2}, Data: []float32{1, -2}}, []byte{0x00, 0x3c, 0x00, 0xc0}},
		{tensor.Tensor{DType: tensor.BFloat16, Shape: []int64{1}, Data: []float32{1}}, []byte{0x80, 0x3f}},
		{tensor.Tensor{DType: tensor.String, Shape: []int64{2}, Data: []string{"ab", ""}}, []byte{2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}},
		{tensor.Tensor{DType: tensor.String, Shape: []int64{1}, Data: []string{"a\x00b"}}, []byte{3, 0, 0, 0, 'a', 0, 'b'}},
	} {
		got, err := AppendRaw(nil, c.t)
		if err != nil || !slices.Equal(got, c.raw) {
			t.Errorf("AppendRaw(%v %v) = %v %v, want %v", c.t.DType, c.t.Data, got, err, c.raw)
		}
		back, err := DecodeRaw(c.t.DType, c.t.Shape, c.raw)
		if err != nil || !reflect.DeepEqual(back.Data, c.t.Data) {
			t.Errorf("DecodeRaw(%v, %v) = %v %v, want %v", c.t.DType, c.raw, back.Data, err, c.t.Data)
		}
	}
}

// TestDecodeRawRefuses pins the sizes and values the layout cannot hold.
func TestDecodeRawRefuses(t *testing.T) {
	for _, c := range []struct {
		dt    tensor.DType
		shape []int64
		raw   []byte
		msg   string
	}{
		{tensor.Float32, []int64{2}, make([]byte, 7), "the raw data is 7 bytes, but 2 FP32 elements of shape [2] take 8"},
		{tensor.Bool, []int64{2}, []byte{1, 2}, "BOOL element 1 is byte 2; must be 0 or 1"},
		{tensor.String, []int64{1}, []byte{5, 0, 0, 0, 'a'}, "BYTES element 0 is 5 bytes long, but only 1 bytes are left"},
		{tensor.String, []int64{1}, []byte{1, 0}, "BYTES element 0 is cut short: 2 bytes left"},
		{tensor.String, []int64{2}, []byte{0, 0, 0, 0}, "shape [2] has 2 elements, but the raw data holds 1"},
	} {
		if _, err := DecodeRaw(c.dt, c.shape, c.raw); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("DecodeRaw(%v, %v, %v) = %v, want %q", c.dt, c.shape, c.raw, err, c.msg)
		}
	}
}
