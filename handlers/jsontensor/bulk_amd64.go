//go:build !purego

package jsontensor

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// vectorized is whether this CPU runs vector32s (AVX2, and BMI1 and BMI2's
// bit counts and masks); it is set once, when the package loads.
var vectorized = cpu.X86.HasAVX2 && cpu.X86.HasBMI1 && cpu.X86.HasBMI2

// vector32s reads float32 numbers into dst from i, as fast32sWords
// would, while each starts at or before limit, for i at least 32 and
// limit at most len(b)-vectorWindow: it stops at the first number it does
// not take, at its whitespace; after the separator of the last one when
// dst is full or the next starts past limit; and at the ']' (end) after
// one that ends the array.
func vector32s(b []byte, i, limit uint, dst []float32) (k int, at uint, end bool) {
	return vector32sAVX2(unsafe.SliceData(b), i, limit, unsafe.SliceData(dst), len(dst))
}

//go:noescape
func vector32sAVX2(p *byte, i, limit uint, dst *float32, n int) (k int, at uint, end bool)
