package jsontensor

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// bulk reads a run of elements of an array into dst, where they are many:
// the numbers of the innermost arrays of a tensor. It is a shortcut for
// the element-at-a-time reading (leaf, push, the separator), never a
// different answer: it takes only the elements it is sure of, and stops
// before any other, leaving the decoder where that path would be for it to
// go on, and report whatever is wrong there. It returns how many elements
// it stored, and after: whether it stopped just after the last one (its
// separator not read; where the array ends, say) rather than at the start
// of the next one (whitespace maybe skipped). It stops at the latest once
// dst is full.
type bulk[T any] func(d *Decoder, dst []T, dt tensor.DType) (n int, after bool)

// float32s is the bulk reader of float32, float16 and bfloat16 elements.
// Each is scanned, its separator included, in one pass over the bytes with
// the state in registers: separate calls to scan a number, convert it and
// store it cost three times as much (issue 15). It takes plain numbers of
// at most 19 significant digits with exponents the fast path of
// num.float32 converts, and so returns its values, strconv's; it leaves
// every other number, and whatever is not a number, to the leaves.
func float32s(d *Decoder, dst []float32, dt tensor.DType) (int, bool) {
	b, i := d.b, d.i
	for k := range dst {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		start := i
		neg := false
		if i < len(b) && b[i] == '-' {
			neg = true
			i++
		}
		// The integer part. JSON allows a leading zero only alone, so a
		// 0 is not gathered: one digit behind it is then the separator's
		// error, as it is for number.
		var mant uint64
		digits := 0
		if i < len(b) && b[i] == '0' {
			i++
		} else {
			mant, digits, i = digitRun(b, i, 0, 0)
			if digits == 0 {
				d.i = start
				return k, false
			}
		}
		exp := 0
		if i < len(b) && b[i] == '.' {
			i++
			j := i
			if mant == 0 { // as in number: zeros before the first digit are not significant
				for i < len(b) && b[i] == '0' {
					i++
				}
			}
			if mant, digits, i = digitRun(b, i, mant, digits); i == j {
				d.i = start
				return k, false
			}
			exp = j - i
		}
		if i < len(b) && b[i]|0x20 == 'e' {
			i++
			eneg := i < len(b) && b[i] == '-'
			if i < len(b) && (b[i] == '+' || b[i] == '-') {
				i++
			}
			j, e := i, 0
			for ; i < len(b) && isDigit(b[i]); i++ {
				e = min(e*10+int(b[i]-'0'), 1e6)
			}
			if i == j {
				d.i = start
				return k, false
			}
			if eneg {
				e = -e
			}
			exp += e
		}
		// num.float32's fast path, on the same terms.
		if digits > 19 || exp < -22 || exp > 22 {
			d.i = start
			return k, false
		}
		var v float32
		if mant != 0 {
			var f float64
			if exp < 0 {
				f = float64(mant) / pow10[-exp]
			} else {
				f = float64(mant) * pow10[exp]
			}
			if low := math.Float64bits(f) & (1<<29 - 1); low-(1<<28-16) <= 32 || f > math.MaxFloat32 {
				d.i = start
				return k, false
			}
			v = float32(f)
			if dt != tensor.Float32 && !fitsHalf(v, dt) {
				d.i = start
				return k, false
			}
		}
		if neg {
			v = -v
		}
		dst[k] = v
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		d.i = i
		return k + 1, true
	}
	d.i = i
	return len(dst), false
}

// pow10u holds the powers of ten below 10^8, indexed by a digit count.
var pow10u = [8]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7}

// digitRun appends the run of digits at b[i:] to mant, of digits
// significant digits so far, and returns both and where the run ends.
// Eight bytes at a time: whether all are digits is one test, and how many
// of them are when not one count of trailing zeros, so a 17-digit
// fraction takes three steps and no byte loop. Eight digits move i by a
// constant, which lets the next load start before their value is known;
// only the last step's i depends on the data. Past 19 digits mant is no
// longer meaningful (the caller leaves such numbers to strconv); with fewer
// than eight bytes left it goes digit by digit.
func digitRun(b []byte, i int, mant uint64, digits int) (uint64, int, int) {
	for len(b)-i >= 8 && digits <= 19 {
		v := binary.LittleEndian.Uint64(b[i:])
		// The lowest byte flagged is the first that is not a digit: below
		// it no byte carries or borrows into the next.
		nd := ((v + 0x4646464646464646) | (v - 0x3030303030303030)) & 0x8080808080808080
		if nd != 0 {
			n := bits.TrailingZeros64(nd) >> 3
			// The n digits, moved to the low end of an eight-digit number
			// whose other digits are zeros (a shift by 64 leaves none).
			v = (v - 0x3030303030303030) << (64 - 8*n)
			return mant*pow10u[n&7] + swar8(v), digits + n, i + n
		}
		mant = mant*1e8 + swar8(v-0x3030303030303030)
		digits += 8
		i += 8
	}
	for ; i < len(b) && isDigit(b[i]); i++ {
		mant = mant*10 + uint64(b[i]-'0')
		digits++
	}
	return mant, digits, i
}

// swar8 is the value of eight decimal digits, one a byte, the first in the
// lowest (simdjson's and fast_float's technique).
func swar8(v uint64) uint64 {
	v = v*10 + v>>8 // pairs of digits
	return ((v&0x000000ff000000ff)*0x000f424000000064 + (v>>16&0x000000ff000000ff)*0x0000271000000001) >> 32
}
