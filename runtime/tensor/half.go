package tensor

import (
	"encoding/binary"
	"math"
)

// Go has no 16-bit float types; float16 and bfloat16 tensors are held as
// []float32 and converted at the ORT boundary, round-to-nearest-even as ORT
// itself casts.

func float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b >> 23) & 0xff)
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15: // overflow
		return sign | 0x7c00
	case exp-127 >= -14: // normal
		e := uint32(exp-127+15) << 10
		v := e | mant>>13
		return sign | uint16(roundNearestEven(v, mant&0x1fff, 0x1000))
	case exp-127 >= -25: // subnormal
		mant |= 0x800000
		shift := uint(-14-(exp-127)) + 13
		v := mant >> shift
		rem := mant & (1<<shift - 1)
		return sign | uint16(roundNearestEven(v, rem, 1<<(shift-1)))
	}
	return sign
}

// roundNearestEven rounds v up when the dropped bits rem exceed half, or
// equal half and v is odd. A carry into the exponent is the right answer.
func roundNearestEven(v, rem, half uint32) uint32 {
	if rem > half || (rem == half && v&1 == 1) {
		v++
	}
	return v
}

func float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = mant * 2^-24.
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

func float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN stays NaN
		return uint16(b>>16) | 0x40
	}
	return uint16(roundNearestEven(b>>16, b&0xffff, 0x8000))
}

func bfloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// EncodeHalf packs float16 or bfloat16 values, held as float32, into the
// little-endian 16-bit form ORT and the raw tensor layout use.
func EncodeHalf(d DType, src []float32) []byte {
	conv := float32ToFloat16
	if d == BFloat16 {
		conv = float32ToBFloat16
	}
	out := make([]byte, 2*len(src))
	for i, f := range src {
		binary.LittleEndian.PutUint16(out[2*i:], conv(f))
	}
	return out
}

// DecodeHalf unpacks little-endian float16 or bfloat16 values to float32.
func DecodeHalf(d DType, src []byte) []float32 {
	conv := float16ToFloat32
	if d == BFloat16 {
		conv = bfloat16ToFloat32
	}
	out := make([]float32, len(src)/2)
	for i := range out {
		out[i] = conv(binary.LittleEndian.Uint16(src[2*i:]))
	}
	return out
}
