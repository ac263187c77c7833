package tensor

import (
	"math"
	"testing"
)

// Expected bit patterns are from the IEEE 754 binary16 and bfloat16 tables
// (e.g. numpy.float16(x).view(numpy.uint16)), not from this code.
func TestHalfConversions(t *testing.T) {
	for _, c := range []struct {
		f    float32
		f16  uint16
		bf16 uint16
	}{
		{0, 0x0000, 0x0000},
		{1, 0x3c00, 0x3f80},
		{-2, 0xc000, 0xc000},
		{0.5, 0x3800, 0x3f00},
		{65504, 0x7bff, 0x4780},                 // bf16: 65504 is nearer 65536 than 65280
		{1e6, 0x7c00, 0x4974},                   // f16 overflows to +Inf; bf16 1e6 rounds to 999424
		{5.960464477539063e-08, 0x0001, 0x3380}, // smallest f16 subnormal
		{1.0009765625, 0x3c01, 0x3f80},          // 1 + 2^-10
		{float32(math.Inf(-1)), 0xfc00, 0xff80},
		{0.1, 0x2e66, 0x3dcd},
	} {
		if got := float32ToFloat16(c.f); got != c.f16 {
			t.Errorf("float16(%g) = %#04x, want %#04x", c.f, got, c.f16)
		}
		if got := float32ToBFloat16(c.f); got != c.bf16 {
			t.Errorf("bfloat16(%g) = %#04x, want %#04x", c.f, got, c.bf16)
		}
	}
	// Every finite float16 survives a round trip through float32.
	for h := 0; h < 0x10000; h++ {
		if h&0x7c00 == 0x7c00 {
			continue
		}
		if back := float32ToFloat16(float16ToFloat32(uint16(h))); back != uint16(h) {
			t.Fatalf("float16 %#04x round-trips to %#04x", h, back)
		}
	}
}
