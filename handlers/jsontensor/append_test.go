package jsontensor

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestAppendTensor pins the JSON written for each element type and rank:
// nesting follows the shape, rank 0 is a bare value, float32 is written as
// its shortest float32 decimal, and NaN/Inf (not JSON) become null.
func TestAppendTensor(t *testing.T) {
	for _, c := range []struct {
		name string
		t    tensor.Tensor
		want string
	}{
		{"float32 2x2", tensor.Tensor{DType: tensor.Float32, Shape: []int64{2, 2}, Data: []float32{0.1, 1, -2.5, 3e-8}}, `[[0.1,1],[-2.5,3e-08]]`},
		{"float64 rank 0", tensor.Tensor{DType: tensor.Float64, Data: []float64{0.1}}, `0.1`},
		{"nan and inf", tensor.Tensor{DType: tensor.Float32, Shape: []int64{3}, Data: []float32{float32(math.NaN()), float32(math.Inf(1)), 1}}, `[null,null,1]`},
		{"int8 extremes", tensor.Tensor{DType: tensor.Int8, Shape: []int64{2}, Data: []int8{-128, 127}}, `[-128,127]`},
		{"uint64 large", tensor.Tensor{DType: tensor.Uint64, Shape: []int64{1}, Data: []uint64{18446744073709551615}}, `[18446744073709551615]`},
		{"bool 1x2", tensor.Tensor{DType: tensor.Bool, Shape: []int64{1, 2}, Data: []bool{true, false}}, `[[true,false]]`},
		{"strings", tensor.Tensor{DType: tensor.String, Shape: []int64{2}, Data: []string{"a\"b", "日本"}}, `["a\"b","日本"]`},
		{"empty batch", tensor.Tensor{DType: tensor.Float32, Shape: []int64{0, 3}, Data: []float32{}}, `[]`},
		{"3-d", tensor.Tensor{DType: tensor.Int32, Shape: []int64{2, 1, 2}, Data: []int32{1, 2, 3, 4}}, `[[[1,2]],[[3,4]]]`},
		{"zipmap rows", tensor.Tensor{DType: tensor.MapSequence, Shape: []int64{1}, Data: []map[string]float64{{"b": 0.25, "a": 0.75}}}, `[{"a":0.75,"b":0.25}]`},
	} {
		if got := string(AppendTensor(nil, c.t)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// FuzzAppendString checks the hand-written string encoder against
// encoding/json: what it writes must be valid JSON that decodes back to
// the input (with invalid UTF-8 replaced, as encoding/json does).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\n\r\t\x00\x1f", "<&>", "héllo 日本語 🙂", "\xff\xfe bad utf8", "\u2028\u2029"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, out, err)
		}
		want := s
		if !utf8.ValidString(s) {
			want = string([]rune(s)) // invalid bytes become U+FFFD
		}
		if back != want {
			t.Fatalf("%q round-trips to %q", s, back)
		}
	})
}
