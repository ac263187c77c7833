package jsontensor

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unsafe"

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
	k, i := 0, uint(d.i)
	for handed := false; ; handed = true {
		n, at, stop := fast32s(d.b, i, dst[k:], dt)
		if k, i = k+n, at; stop || k == len(dst) {
			d.i = int(i)
			return k, stop
		}
		if n == 0 && handed {
			// Two in a row that fast32s does not take: numbers written
			// another way (%e, say), which floats reads without the
			// calls that find it out each time.
			return floats(d, dst, dt, k, i)
		}
		// One number that fast32s does not take (an exponent, say: Python
		// writes numbers below 10^-4 so) goes to floats, which would
		// otherwise read the rest of the row too, at twice the cost.
		n, after := floats(d, dst[:k+1], dt, k, i)
		if after || n == k {
			return n, after
		}
		k, i = n, uint(d.i)
	}
}

// float64s is the bulk reader of float64 elements: it converts a number
// as leafFloat64 does, by num.float64's exact path (Clinger's: mant at
// most 2^53, an exact power of ten) where it applies and else by strconv
// on the text it scanned, and leaves to the leaves only what is out of
// range or no plain JSON number.
func float64s(d *Decoder, dst []float64, dt tensor.DType) (int, bool) {
	return floats(d, dst, dt, 0, uint(d.i))
}

// floats is float32s' and float64s' loop, from element k at i.
func floats[T float32 | float64](d *Decoder, dst []T, dt tensor.DType, k int, i uint) (int, bool) {
	// Indices are unsigned, which lets the compiler drop the bounds checks
	// that each test against len(b) already makes.
	b, end := d.b, uint(len(d.b))
	for ; k < len(dst); k++ {
		start, at, neg, ok := numberStart(b, i)
		if i = at; !ok {
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
		// num.float32's or num.float64's fast path, on the same terms.
		// (Past 19 digits mant means nothing: it may have wrapped.)
		var v T
		ok = digits <= 19 && exp >= -22 && exp <= 22
		switch {
		case !ok || mant == 0:
		case unsafe.Sizeof(v) == 8: // float64: a constant in each instantiation
			ok = mant <= 1<<53
			v = T(scaled(mant, exp))
		default:
			var f float32
			f, ok = fast32(mant, exp)
			ok = ok && (dt == tensor.Float32 || fitsHalf(f, dt))
			v = T(f)
		}
		switch {
		case ok && neg:
			v = -v
		case !ok:
			// The leaf's strconv, on the text just scanned (sign and
			// all), which is a JSON number unless a digit follows: the
			// fraction's step above stops after 24 digits.
			if i < end && isDigit(b[i]) {
				d.i = int(start)
				return k, false
			}
			if v, ok = parsed[T](b[start:i]); !ok {
				d.i = int(start)
				return k, false
			}
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

// parsed is the float64 leaf's strconv.ParseFloat of a JSON number's
// text, or false when it is out of range (the leaf's error) or T is
// float32 (whose numbers fast32s and fast32 leave to the leaves).
func parsed[T float32 | float64](text []byte) (T, bool) {
	var zero T
	if unsafe.Sizeof(zero) != 8 {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafeString(text), 64)
	return T(f), err == nil
}

// fastWindow is how many bytes fast32s may read from where a number's
// whitespace starts: one space, a sign, eight bytes of integer part, the
// '.', 24 bytes of fraction and the byte after, with room to spare.
const fastWindow = 48

// fast32s is float32s' path for the numbers most bodies are made of, far
// enough from the body's end that it reads words without bounds checks:
// at most one space before each, a sign, at most seven integer digits, at
// most 19 significant digits in all (below 2^63), no exponent. Issue 15 counted the
// general loop below at about 250 instructions a number (callgrind), most
// of them index checks and the registers they cost. It stores what it
// takes as that loop would (strconv's value: the same digits, through
// round32's check, of a product rather than a quotient, so that the two
// may differ in which numbers they leave to strconv, never in a value)
// and leaves every other number to it, at the number's whitespace:
// it returns how many numbers it stored, where it stopped, and whether it
// stopped just after a number's end that is not a ',' (float32s' after),
// which ends the call. On CPUs with AVX2, float32 numbers 32 bytes or
// more from either end of the body go through vector32s
// (bulk_amd64.s), which reads the same numbers (and small numbers' longer
// fractions) with 32-byte vector loads; the rest, word at a time.
func fast32s(b []byte, i uint, dst []float32, dt tensor.DType) (k int, _ uint, stop bool) {
	if vectorized && dt == tensor.Float32 && len(b) >= vectorWindow+32 {
		limit := uint(len(b) - vectorWindow)
		for k < len(dst) && i <= limit {
			if i >= 32 {
				run := min(len(dst)-k, vectorRun)
				n, at, end := vector32s(b, i, limit, dst[k:k+run])
				if k, i = k+n, at; end {
					return k, i, true
				}
				if k == len(dst) || i > limit {
					break
				}
				if n == run {
					continue
				}
			}
			// A number vector32s does not take, or one too near the
			// body's start for it: fast32sWords tries it, and if it
			// does not take it either, floats will.
			n, at, stop := fast32sWords(b, i, dst[k:k+1], dt)
			if n == 0 {
				return k, i, false
			}
			if k, i = k+1, at; stop {
				return k, i, true
			}
		}
	}
	n, i, stop := fast32sWords(b, i, dst[k:], dt)
	return k + n, i, stop
}

// vectorRun is the most numbers one call of vector32s reads, so that a
// goroutine reading a long array still reaches a point where the
// scheduler and the GC can stop it (assembly has none) every 50 µs or so.
const vectorRun = 4096

// vectorWindow is how far from the body's end vector32s stops: it reads
// a number that starts at limit = len(b)-vectorWindow or before from a
// 32-byte load at most two bytes past it, and its end at most 34 past.
const vectorWindow = 64

// fast32sWords is fast32s a word at a time, and the whole of it where
// there is no vector32s.
func fast32sWords(b []byte, i uint, dst []float32, dt tensor.DType) (k int, _ uint, stop bool) {
	if len(b) < fastWindow {
		return 0, i, false
	}
	limit := uint(len(b) - fastWindow)
	p := unsafe.Pointer(unsafe.SliceData(b))
	at := func(j uint) byte { return *(*byte)(unsafe.Add(p, j)) }
	word := func(j uint) uint64 { return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(p, j))[:]) }
	half := dt != tensor.Float32
	for k < len(dst) && i <= limit {
		start := i
		c := at(i)
		if c == ' ' {
			i++
			c = at(i)
		}
		neg := c == '-'
		if neg {
			i++
			c = at(i)
		}
		// The integer part: most often one digit; else as many as the
		// word at i begins with, fewer than eight, without a leading 0
		// (JSON's error, the loop's to report).
		mant, n := uint64(c)-'0', uint(1)
		if mant > 9 {
			return k, start, false
		}
		if at(i+1)-'0' < 10 {
			w := word(i)
			nd := nonDigits(w)
			if mant, n = partial8(w, nd); n == 8 || c == '0' {
				return k, start, false
			}
		}
		i += n
		exp := uint(0)
		if c = at(i); c == '.' {
			i++
			var v uint64
			var f uint
			w1 := word(i)
			if nd1 := nonDigits(w1); nd1 != 0 {
				if v, f = partial8(w1, nd1); f == 0 {
					return k, start, false
				}
			} else if w2 := word(i + 8); nonDigits(w2) != 0 {
				v2, f2 := partial8(w2, nonDigits(w2))
				v, f = swar8(w1-0x3030303030303030)*pow10u[f2&15]+v2, 8+f2
			} else {
				// Sixteen digits, and the up to three after them that a
				// uint64 holds (Python's reprs have 15 to 17 significant
				// digits), taken whatever their number without a branch
				// on it: a loop's test of the next byte was mispredicted
				// on about a third of the numbers of such a body
				// (BenchmarkFloat32s). The shift (64 bits for none) keeps
				// the n3 digits that begin w3 and moves them to its end,
				// the low digits of swar8's.
				w3 := word(i + 16)
				n3 := uint(bits.TrailingZeros64(nonDigits(w3))) >> 3
				if n3 > 3 {
					return k, start, false
				}
				v = swar8(w1-0x3030303030303030)*1e8 + swar8(w2-0x3030303030303030)
				v, f = v*pow10u[n3]+swar8((w3-0x3030303030303030)<<(64-8*n3)), 16+n3
			}
			// More significant digits than a uint64 holds exactly (a 0
			// integer part has none), or a mant of 2^63 or more, which a
			// signed conversion (one instruction) would not make.
			if mant != 0 && n+f > 19 {
				return k, start, false
			}
			if mant = mant*pow10u[f&31] + v; int64(mant) < 0 {
				return k, start, false
			}
			i += f
			exp = f
			c = at(i)
		}
		// Below 2^63 with no exponent, and so far below float32's range:
		// only the rounding can be in doubt.
		var v float32
		if mant != 0 {
			f := float64(int64(mant)) * invPow10[exp&31]
			if v = float32(f); ambiguous32(f) || half && !fitsHalf(v, dt) {
				return k, start, false
			}
		}
		if neg {
			v = -v
		}
		if c != ',' {
			// The end of the array, or whatever the loop finds wrong;
			// an exponent is the loop's to read.
			if c|0x20 == 'e' {
				return k, start, false
			}
			dst[k] = v
			return k + 1, i, true
		}
		dst[k] = v
		k++
		i++
	}
	return k, i, false
}

// invPow10 holds the float64 nearest each 10^-n: a multiplication by one
// is several times faster than the division by 10^n, and the product is
// within 3 units of the quotient rather than 2 (TestReciprocalScaling),
// which round32's margin of 16 takes.
var invPow10 = [32]float64{1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12,
	1e-13, 1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22}

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

// ints is the bulk reader of integer elements (token ids, categorical
// codes, pixels): plain integers that T holds, of at most 19 digits (which
// a uint64 holds whatever they are), without a leading zero, a fraction or
// an exponent. It leaves every other element to the leaves, at its
// whitespace, as float32s does: they report what is wrong with it.
func ints[T signed | unsigned](d *Decoder, dst []T, dt tensor.DType) (int, bool) {
	// limit is the largest magnitude of a value, below zero one more for
	// a signed T; digits, how many digits it has (signed or not), at most
	// 19.
	limit, digits, isSigned := uint64(1)<<dt.Bits()-1, uint(intDigits[dt.Bits()/8]), dt.IsSigned()
	if isSigned {
		limit >>= 1
	}
	b, i, end := d.b, uint(d.i), uint(len(d.b))
	for k := range dst {
		start, at, neg, ok := numberStart(b, i)
		if i = at; !ok {
			d.i = int(start)
			return k, false
		}
		var mag uint64
		j := i
		if b[i] == '0' {
			i++ // alone, or the leaf's error
		} else {
			for ; i < end && isDigit(b[i]) && i-j < digits; i++ {
				mag = mag*10 + uint64(b[i]-'0')
			}
		}
		most := limit
		if neg {
			if !isSigned {
				most = 0 // -0 only
			} else {
				most++ // two's complement reaches one further below zero
			}
		}
		if mag > most || i < end && (isDigit(b[i]) || b[i] == '.' || b[i]|0x20 == 'e') {
			d.i = int(start)
			return k, false
		}
		v := T(mag)
		if neg {
			v = -v // wraps to the minimum as it should
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

// numberStart is how the bulk readers begin an element at i: past its
// whitespace, where the number starts (its sign, where a reader hands it
// to the leaves), where its digits do, and whether it is negative; ok is
// false when no digit follows, which is the leaves' to report.
func numberStart(b []byte, i uint) (start, at uint, neg, ok bool) {
	end := uint(len(b))
	for i < end && isSpace(b[i]) {
		i++
	}
	start = i
	if neg = i < end && b[i] == '-'; neg {
		i++
	}
	return start, i, neg, i < end && isDigit(b[i])
}

// intDigits is, by an integer's size in bytes, how many digits its largest
// value has, signed or not (127 and 255, 32767 and 65535, ...), up to the
// 19 that a uint64 holds whatever they are.
var intDigits = [9]uint8{1: 3, 2: 5, 4: 10, 8: 19}
