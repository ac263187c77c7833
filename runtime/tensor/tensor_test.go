package tensor

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"testing"
)

// TestTensorCheck pins that a tensor whose Go buffer does not match its
// dtype or shape is refused before it can reach ORT's C memory.
func TestTensorCheck(t *testing.T) {
	for _, c := range []struct {
		t  Tensor
		ok bool
	}{
		{Tensor{Float32, []int64{2, 2}, []float32{1, 2, 3, 4}}, true},
		{Tensor{Float16, []int64{1}, []float32{1}}, true},
		{Tensor{Float32, nil, []float32{1}}, true},
		{Tensor{Float32, []int64{2, 2}, []float32{1, 2, 3}}, false},
		{Tensor{Int64, []int64{1}, []int32{1}}, false},
		{Tensor{String, []int64{1}, []float32{1}}, false},
		{Tensor{Bool, []int64{0}, []bool{}}, true},
	} {
		if err := c.t.Check(); (err == nil) != c.ok {
			t.Errorf("%v %v %T: %v", c.t.DType, c.t.Shape, c.t.Data, err)
		}
	}
}

// TestRowsAndConcat pins the dim-0 slicing and joining the batcher merges
// and splits requests with: rows share memory, a join keeps row order and
// reuses a buffer with room.
func TestRowsAndConcat(t *testing.T) {
	a := Tensor{DType: Int64, Shape: []int64{1, 2}, Data: []int64{1, 2}}
	b := Tensor{DType: Int64, Shape: []int64{2, 2}, Data: []int64{3, 4, 5, 6}}
	scratch := make([]int64, 0, 8)
	joined := Concat(Tensor{Data: scratch}, []Tensor{a, b})
	if got := joined.Data.([]int64); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6}) || &got[0] != &scratch[:1][0] {
		t.Errorf("Concat = %v (reused %v), want 1..6 in the scratch buffer", got, &got[0] == &scratch[:1][0])
	}
	if !slices.Equal(joined.Shape, []int64{3, 2}) {
		t.Errorf("Concat shape %v, want [3 2]", joined.Shape)
	}
	mid := joined.Rows(1, 2)
	if got := mid.Data.([]int64); !slices.Equal(got, []int64{3, 4, 5, 6}) || cap(got) != 4 || !slices.Equal(mid.Shape, []int64{2, 2}) {
		t.Errorf("Rows(1, 2) = %v %v cap %d", mid.Shape, got, cap(got))
	}
	mid.Data.([]int64)[0] = 9
	if joined.Data.([]int64)[2] != 9 {
		t.Error("Rows copied instead of sharing memory")
	}
}

// TestMemoryAndView pins the raw little-endian layout of each fixed-width
// type (bytes from encoding/binary, not from this code) and which types
// have none in place.
func TestMemoryAndView(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		t   Tensor
		raw []byte
	}{
		{Tensor{DType: Float32, Shape: []int64{2}, Data: []float32{1, -2}}, le.AppendUint32(le.AppendUint32(nil, math.Float32bits(1)), math.Float32bits(-2))},
		{Tensor{DType: Int16, Shape: []int64{2}, Data: []int16{-1, 258}}, []byte{0xff, 0xff, 2, 1}},
		{Tensor{DType: Uint64, Shape: []int64{1}, Data: []uint64{1 << 40}}, le.AppendUint64(nil, 1<<40)},
		{Tensor{DType: Bool, Shape: []int64{2}, Data: []bool{true, false}}, []byte{1, 0}},
	} {
		got, ok := c.t.Memory()
		if !ok || !bytes.Equal(got, c.raw) {
			t.Errorf("%v Memory = %v %v, want %v", c.t.DType, got, ok, c.raw)
		}
		back, ok := View(c.t.DType, c.raw)
		if !ok || !reflect.DeepEqual(back, c.t.Data) {
			t.Errorf("%v View = %v %v, want %v", c.t.DType, back, ok, c.t.Data)
		}
	}
	for _, d := range []DType{Float16, BFloat16, String, MapSequence} {
		if _, ok := View(d, []byte{0, 0}); ok {
			t.Errorf("View(%v) claims a raw layout in place", d)
		}
		tt := Tensor{DType: d, Data: NewBuffer(d, 1)}
		if _, ok := tt.Memory(); ok {
			t.Errorf("%v Memory claims a raw layout in place", d)
		}
	}
}
