//go:build !purego

package jsontensor

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// vectorBody is elems as an array, with room before and after for
// vector32s' loads, and where its first element starts.
func vectorBody(elems []string) ([]byte, uint) {
	pad := strings.Repeat(" ", 40)
	return []byte(pad + "[" + strings.Join(elems, ", ") + "]" + strings.Repeat(" ", vectorWindow+16)), uint(len(pad) + 1)
}

// TestVectorTakesPython pins that vector32s reads whole the rows Python's
// json writes, small numbers' 20-digit fractions and signs included, to
// strconv's float32 of each: the bulk comparisons then compare its path.
func TestVectorTakesPython(t *testing.T) {
	if !vectorized {
		t.Skip("no AVX2 here")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	elems := make([]string, 3*vectorRun+5)
	for k := range elems {
		var f float64
		switch k % 4 {
		case 0, 1:
			f = rng.Float64()
		case 2:
			f = rng.NormFloat64() * 10
		case 3:
			f = rng.Float64() / 1000 // 0.000…: up to 22 fraction digits
		}
		if f < 1e-4 && f > -1e-4 {
			f = 0.5 // Python writes these with an exponent: the words' to take
		}
		elems[k] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	b, i := vectorBody(elems)
	dst := make([]float32, len(elems)+1)
	k, at, end := vector32s(b, i, uint(len(b)-vectorWindow), dst)
	if k != len(elems) || !end || b[at] != ']' {
		t.Fatalf("read %d of %d (end %v), stopped at %q", k, len(elems), end, b[at:min(int(at)+30, len(b))])
	}
	check := func(dst []float32) {
		for j, s := range elems {
			want, _ := strconv.ParseFloat(s, 32)
			if math.Float32bits(dst[j]) != math.Float32bits(float32(want)) {
				t.Fatalf("%s read as %v, strconv's is %v", s, dst[j], float32(want))
			}
		}
	}
	check(dst)
	// And through fast32s, vectorRun numbers a call.
	clear(dst)
	if k, at, stop := fast32s(b, i, dst, tensor.Float32); k != len(elems) || !stop || b[at] != ']' {
		t.Fatalf("fast32s read %d of %d (stop %v), stopped at %q", k, len(elems), stop, b[at:min(int(at)+30, len(b))])
	}
	check(dst)
}

// TestVectorBounds pins which numbers vector32s takes, to strconv's
// value, and which it leaves at their whitespace to fast32sWords and the
// leaves: each is read between two it takes.
func TestVectorBounds(t *testing.T) {
	if !vectorized {
		t.Skip("no AVX2 here")
	}
	for _, c := range []struct {
		elem  string
		taken bool
	}{
		{"0", true}, {"-0", true}, {"7", true}, {"1234567", true}, {"1234567.5", true}, {"-9.75", true},
		{"0.0000000000000000000001", true},          // 22 fraction digits
		{"0.00000000000000000000001", false},        // 23
		{"0.0003532709881682860612", true},          // 22 digits, 19 significant
		{"0.9223372036854775807", false},            // 19 digits, 2^63 - 1: refused by the 921 bound
		{"0.9209999999999999999", true},             // B = 920
		{"1.234567890123456789", true},              // 19 digits in all
		{"1.2345678901234567891", false},            // 20
		{"12345678", false}, {"12345678.25", false}, // eight integer digits
		{"00.5", false}, {"01", false}, {"1.", false}, {".5", false}, {"+1", false}, {"1e5", false},
		{"1.5e5", false}, {"1.5E5", false}, {"0.5x", false}, {"1.2.3", false}, {" 0.5", false}, {"--1", false},
		{"-", false}, {"", false}, {"0.5 ", false}, {"\"1\"", false}, {"[1]", false}, {"NaN", false},
		{"1.00000005960464477539062", false}, // 24 digits
		{"16777217", false}, {"9999999", true}, {"9999999.25", true}, {"0.333333333333333314829616256247390992939472198486328125", false},
	} {
		b, i := vectorBody([]string{"0.5", c.elem, "0.25"})
		dst := make([]float32, 4)
		k, at, end := vector32s(b, i, uint(len(b)-vectorWindow), dst)
		second := i + uint(len("0.5,"))
		switch {
		case c.taken:
			want, err := strconv.ParseFloat(c.elem, 32)
			if k != 3 || !end || err != nil || math.Float32bits(dst[1]) != math.Float32bits(float32(want)) {
				t.Errorf("%q: read %d (end %v), %v, want 3 with %v (%v)", c.elem, k, end, dst[:k], float32(want), err)
			}
		case k != 1 || end || at != second:
			t.Errorf("%q: read %d (end %v) up to %d, want 1 and a stop at %d", c.elem, k, end, at, second)
		}
	}
}
