package jsontensor

import (
	"encoding/binary"
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
// store it cost nearly twice as much (issue 15). It takes plain numbers of
// at most 19 significant digits with exponents the fast path of
// num.float32 converts, and so returns its values, strconv's; it leaves
// every other number, and whatever is not a number, to the leaves.
func float32s(d *Decoder, dst []float32, dt tensor.DType) (int, bool) {
	// Indices are unsigned, which lets the compiler drop the bounds checks
	// that each test against len(b) already makes.
	b, i, end := d.b, uint(d.i), uint(len(d.b))
	for k := range dst {
		for i < end && isSpace(b[i]) {
			i++
		}
		start := i
		neg := i < end && b[i] == '-'
		if neg {
			i++
		}
		if i >= end || !isDigit(b[i]) {
			d.i = int(start)
			return k, false
		}
		// The integer part. JSON allows a leading zero only alone, so a
		// 0 is not gathered: a digit behind it is then the separator's
		// error, as it is for number.
		var mant uint64
		digits := 0
		if c := b[i] - '0'; c != 0 {
			mant, digits = uint64(c), 1
			for i++; i < end && isDigit(b[i]); i++ {
				mant = mant*10 + uint64(b[i]-'0')
				digits++
			}
		} else {
			i++
		}
		exp := 0
		if i < end && b[i] == '.' {
			i++
			j := i
			if mant == 0 { // as in number: zeros before the first digit are not significant
				for i < end && b[i] == '0' {
					i++
				}
			}
			// Eight bytes at a time, 24 bytes ahead: whether eight are
			// all digits is one test, and how many are when not one count
			// of trailing zeros. The three loads do not wait for one
			// another, nor for the digits' values: a 17-digit fraction
			// takes three steps, and only the last moves i by how many
			// digits it found.
			if end-i >= 24 {
				ahead := b[i : i+24] // one bounds check for the three loads
				var v uint64
				n := uint(0)
				w := binary.LittleEndian.Uint64(ahead)
				if nd := nonDigits(w); nd != 0 {
					v, n = partial8(w, nd)
				} else {
					w2 := binary.LittleEndian.Uint64(ahead[8:])
					if nd := nonDigits(w2); nd != 0 {
						v2, n2 := partial8(w2, nd)
						v, n = swar8(w-0x3030303030303030)*pow10u[n2&15]+v2, 8+n2
					} else {
						w3 := binary.LittleEndian.Uint64(ahead[16:])
						v3, n3 := partial8(w3, nonDigits(w3))
						v = (swar8(w-0x3030303030303030)*1e8+swar8(w2-0x3030303030303030))*pow10u[n3&15] + v3
						n = 16 + n3 // 24, too many, if all are digits
					}
				}
				mant = mant*pow10u[n&31] + v // past 19 digits, neither matters
				digits += int(n)
				i += n
			} else {
				for ; i < end && isDigit(b[i]); i++ {
					mant = mant*10 + uint64(b[i]-'0')
					digits++
				}
			}
			if i == j {
				d.i = int(start)
				return k, false
			}
			exp = int(j) - int(i)
		}
		if i < end && b[i]|0x20 == 'e' {
			i++
			eneg := i < end && b[i] == '-'
			if i < end && (b[i] == '+' || b[i] == '-') {
				i++
			}
			j, e := i, 0
			for ; i < end && isDigit(b[i]); i++ {
				e = min(e*10+int(b[i]-'0'), 1e6)
			}
			if i == j {
				d.i = int(start)
				return k, false
			}
			if eneg {
				e = -e
			}
			exp += e
		}
		// num.float32's fast path, on the same terms. (Past 19 digits mant
		// means nothing: it may have wrapped.)
		if digits > 19 || exp < -22 || exp > 22 {
			d.i = int(start)
			return k, false
		}
		var v float32
		if mant != 0 {
			var ok bool
			if v, ok = fast32(mant, exp); !ok {
				d.i = int(start)
				return k, false
			}
			if dt != tensor.Float32 && !fitsHalf(v, dt) {
				d.i = int(start)
				return k, false
			}
		}
		if neg {
			v = -v
		}
		dst[k] = v
		if i < end && b[i] == ',' {
			i++
			continue
		}
		d.i = int(i)
		return k + 1, true
	}
	d.i = int(i)
	return len(dst), false
}

// pow10u holds the powers of ten that uint64 holds, indexed by a digit
// count.
var pow10u = [32]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// nonDigits flags the bytes of w that are not digits, and maybe some after
// the first of those: below it no byte carries or borrows into the next.
func nonDigits(w uint64) uint64 {
	return ((w + 0x4646464646464646) | (w - 0x3030303030303030)) & 0x8080808080808080
}

// partial8 returns the value of the digits that begin the eight bytes w,
// loaded little-endian, and how many there are, for nd = nonDigits(w).
// (When all eight are, nd is 0 and the value wrong.)
func partial8(w, nd uint64) (uint64, uint) {
	n := uint(bits.TrailingZeros64(nd)) >> 3
	// The n digits, moved to the low end of an eight-digit number whose
	// other digits are zeros: by 64 - 8n bits, in two shifts of less
	// than 64 each, which need no test for a shift past the width.
	return swar8((w - 0x3030303030303030) << 8 << ((56 - 8*n) & 63)), n
}

// swar8 is the value of eight decimal digits, one a byte, the first in the
// lowest (simdjson's and fast_float's technique).
func swar8(v uint64) uint64 {
	v = v*10 + v>>8 // pairs of digits
	return ((v&0x000000ff000000ff)*0x000f424000000064 + (v>>16&0x000000ff000000ff)*0x0000271000000001) >> 32
}
