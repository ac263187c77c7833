package jsontensor

import (
	"encoding/binary"
	"math"
	"strconv"
	"unsafe"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// numeric scans the number at d.i into d.num. Anything else there is a
// mismatch with want.
func (d *Decoder) numeric(want string) *Error {
	if d.i < len(d.b) {
		if c := d.b[d.i]; c == '-' || isDigit(c) {
			return d.number()
		}
	}
	return d.Mismatch("", want)
}

// num is a scanned JSON number: ±mant × 10^exp when digits <= 19. It holds
// no pointer (its text is Decoder.numText): the decoder lives on the heap,
// and storing a slice there for every number cost write barriers.
type num struct {
	start    int // of its text in the body
	mant     uint64
	exp      int
	digits   int // significant digits; past 19 mant holds only the first 19
	neg      bool
	integral bool // no fraction, no exponent
}

// number scans the JSON number at d.i, which starts with '-' or a digit,
// into d.num, gathering its digits on the way so that most numbers need no
// second look at the text. (In place: copying a num out costs as much as
// reading one.)
func (d *Decoder) number() *Error {
	b, i := d.b, d.i
	n := &d.num
	*n = num{start: i}
	if b[i] == '-' {
		n.neg = true
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++ // JSON allows no other leading zero
	case i < len(b) && isDigit(b[i]):
		i = n.gather(b, i)
	default:
		d.i = i
		return d.Fail("a digit")
	}
	n.integral = true
	if i < len(b) && b[i] == '.' {
		n.integral = false
		i++
		j := i
		if n.mant == 0 { // 0.000123: zeros before the first digit are not significant
			for i < len(b) && b[i] == '0' {
				i++
			}
		}
		if i = n.gather(b, i); i == j {
			d.i = i
			return d.Fail("a digit after '.'")
		}
		n.exp = j - i
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		n.integral = false
		i++
		neg := i < len(b) && b[i] == '-'
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j, e := i, 0
		for ; i < len(b) && isDigit(b[i]); i++ {
			e = min(e*10+int(b[i]-'0'), 1e6) // far beyond any float, and no overflow
		}
		if i == j {
			d.i = i
			return d.Fail("a digit in the exponent")
		}
		if neg {
			e = -e
		}
		n.exp += e
	}
	d.i = i
	return nil
}

// numText is the text of the number number has just scanned.
func (d *Decoder) numText() []byte { return d.b[d.num.start:d.i] }

// gather appends the run of digits at b[i:] to n.mant and returns where it
// ends. Eight digits at a time where it can: a 17-digit float is then three
// steps, not seventeen dependent multiplications.
func (n *num) gather(b []byte, i int) int {
	for n.digits <= 19-8 && len(b)-i >= 8 {
		v, ok := eightDigits(binary.LittleEndian.Uint64(b[i:]))
		if !ok {
			break
		}
		n.mant = n.mant*1e8 + v
		n.digits += 8
		i += 8
	}
	for ; i < len(b) && isDigit(b[i]); i++ {
		if n.digits < 19 {
			n.mant = n.mant*10 + uint64(b[i]-'0')
		}
		n.digits++
	}
	return i
}

// eightDigits returns the value of eight ASCII digits loaded little-endian,
// and false if any of the bytes is not a digit (the SWAR technique of
// simdjson and fast_float).
func eightDigits(v uint64) (uint64, bool) {
	if ((v+0x4646464646464646)|(v-0x3030303030303030))&0x8080808080808080 != 0 {
		return 0, false
	}
	v -= 0x3030303030303030
	v = v*10 + v>>8 // pairs of digits
	v = ((v&0x000000ff000000ff)*0x000f424000000064 + (v>>16&0x000000ff000000ff)*0x0000271000000001) >> 32
	return v, true
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// float32 converts n as strconv.ParseFloat(text, 32) does, and reports
// false when it cannot be sure of the result, for strconv to decide.
//
// mant (up to 19 digits) and one multiplication or division by an exact
// power of ten give a float64 within two of its units of the decimal. Its
// rounding to float32 is then the decimal's own unless the 29 bits float32
// drops are near 1000…0, a midpoint between two float32 values, where those
// few units could decide the direction: that case, one in millions, and
// everything outside the range, goes to strconv.
func (n *num) float32() (float32, bool) {
	if n.mant == 0 {
		return signed0[float32](n.neg), true
	}
	if n.digits > 19 || n.exp < -22 || n.exp > 22 {
		return 0, false
	}
	v, ok := fast32(n.mant, n.exp)
	if n.neg {
		v = -v
	}
	return v, ok
}

// fast32 is num.float32 for a mant of 1 to 19 digits and |exp| <= 22,
// shared with the bulk reader float32s.
func fast32(mant uint64, exp int) (float32, bool) {
	return round32(scaled(mant, exp))
}

// round32 is f, a float64 within a few of its units of a decimal (two
// from scaled, three from fast32s' reciprocal, TestReciprocalScaling), rounded
// to the float32 nearest that decimal, or false when the decimal may be
// too near a midpoint between two float32 values to tell, or out of
// range (num.float32).
func round32(f float64) (float32, bool) {
	if ambiguous32(f) || f > math.MaxFloat32 {
		return 0, false
	}
	return float32(f), true
}

// ambiguous32 reports whether the 29 bits float32 drops of f are near
// 1000…0, where the few units f may be off by could decide the rounding.
func ambiguous32(f float64) bool {
	low := math.Float64bits(f) & (1<<29 - 1)
	return low-(1<<28-16) <= 32
}

// float64 is Clinger's fast path: exact when mant and the power of ten are
// both exact in float64, as they are for numbers of up to 15 digits or so.
func (n *num) float64() (float64, bool) {
	if n.mant == 0 {
		return signed0[float64](n.neg), true
	}
	if n.digits > 19 || n.mant > 1<<53 || n.exp < -22 || n.exp > 22 {
		return 0, false
	}
	f := scaled(n.mant, n.exp)
	if n.neg {
		f = -f
	}
	return f, true
}

// scaled is mant × 10^exp, for |exp| <= 22, in one rounding after mant's own.
func scaled(mant uint64, exp int) float64 {
	if exp < 0 {
		return float64(mant) / pow10[-exp]
	}
	return float64(mant) * pow10[exp]
}

func signed0[F float32 | float64](neg bool) F {
	var z F
	if neg {
		z = -z // -0, as strconv returns for "-0"
	}
	return z
}

// Integer reads the JSON integer at the decoder, after whitespace, and
// returns its text, its magnitude and its sign; a magnitude beyond uint64
// is out of range for dt, the type it was meant for.
func (d *Decoder) Integer(dt tensor.DType) (text []byte, mag uint64, neg bool, err *Error) {
	d.Next()
	return d.integer(dt)
}

// integer is Integer with whitespace already skipped.
func (d *Decoder) integer(dt tensor.DType) (text []byte, mag uint64, neg bool, err *Error) {
	if err = d.numeric("an integer"); err != nil {
		return nil, 0, false, err
	}
	n, text := &d.num, d.numText()
	switch {
	case !n.integral:
		return nil, 0, false, Invalid("", "expected an integer, got %s", Clip(text))
	case n.digits > 19: // 19 digits always fit in a uint64, 20 may
		digits := text[len(text)-n.digits:]
		mag, perr := strconv.ParseUint(unsafeString(digits), 10, 64)
		if perr != nil {
			return nil, 0, false, intRange(text, dt)
		}
		return text, mag, n.neg, nil
	}
	return text, n.mant, n.neg, nil
}

func floatRange(text []byte, dt tensor.DType) *Error {
	limit := "3.4028235e+38"
	switch dt {
	case tensor.Float64:
		limit = "1.7976931348623157e+308"
	case tensor.Float16:
		limit = "65504"
	case tensor.BFloat16:
		limit = "3.3895314e+38"
	}
	return Invalid("", "%s is out of range for %v (magnitude at most %s)", Clip(text), dt, limit)
}

func intRange(text []byte, dt tensor.DType) *Error {
	if dt.IsSigned() {
		return Invalid("", "%s is out of range for %v (%d to %d)", Clip(text), dt, -(int64(1) << (dt.Bits() - 1)), uint64(1)<<(dt.Bits()-1)-1)
	}
	return Invalid("", "%s is out of range for %v (0 to %d)", Clip(text), dt, uint64(1)<<dt.Bits()-1)
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
