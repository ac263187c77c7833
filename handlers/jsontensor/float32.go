package jsontensor

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
)

// appendFloat32 writes f exactly as strconv.AppendFloat(b, float64(f),
// 'g', -1, 32) does: the shortest decimal that reads back as f, the one
// nearest f among those, in %e form for exponents below -4 or from 6 on.
// A model's float32 answers are most of what a response holds (320 numbers
// in a 32-row MLP answer) and strconv takes about 43 ns for each on this
// machine; this takes 18 (BenchmarkAppendFloat32).
//
// It is Giulietti's Schubfach method: scaled by the power of ten that
// leaves f's digits in the integer part, the bounds of f's rounding
// interval are computed with one 64×64-bit multiplication each, rounded so
// that their comparisons with integers are exact, and the shortest
// candidate is one of four integers next to f's scaled value. The
// multiplication is exact enough for every float32: TestAppendFloat32All
// compares all 2^32 of them with strconv (run with -float32-all).
//
// f must be finite: NaN and ±Inf are the caller's (appendFloat writes
// null).
func appendFloat32(b []byte, f float32) []byte {
	u := math.Float32bits(f)
	if u>>31 != 0 {
		b = append(b, '-')
	}
	bq := u >> 23 & 0xff
	t := u & (1<<23 - 1)
	if bq == 0 && t == 0 {
		return append(b, '0')
	}
	// f is c·2^q; s is the scale of bq (see float32Scales).
	c, s := t, &float32Scales[bq][0]
	if bq != 0 {
		c |= 1 << 23
		if t == 0 && bq > 1 {
			// f is a power of two with a smaller one below it: the gap
			// to its predecessor is half the gap to its successor.
			s = &float32Scales[bq][1]
		}
	}
	// The rounding interval, in quarters of 2^q: 4c-2 (4c-1 for a power
	// of two) to 4c+2, its bounds included when c is even, as
	// round-half-to-even reads them back.
	cb := uint64(c) << 2
	cbl := cb - 2
	if s.narrow {
		cbl = cb - 1
	}
	out := uint64(c & 1)
	// Each of f and its bounds, x = 4·(value·10^-k), is held as 2·floor(x)
	// plus one when x is not an integer (scaleBound): for an integer n,
	// value·10^-k ≤ n is then vb ≤ 8n, and value·10^-k < n is vb < 8n.
	vb, vbl, vbr := scaleBound(s.g, cb<<s.h), scaleBound(s.g, cbl<<s.h), scaleBound(s.g, (cb+2)<<s.h)
	digits := vb >> 3
	k := int(s.k)
	// One digit fewer: of the two multiples of ten around digits, at most
	// one is inside the interval, which is less than ten wide here.
	lo10 := digits / 10 * 10
	hi10 := lo10 + 10
	loIn, hiIn := vbl+out <= lo10<<3, hi10<<3+out <= vbr
	var d uint64
	switch {
	case loIn != hiIn:
		d = lo10
		if hiIn {
			d = hi10
		}
	default:
		// Otherwise digits or digits+1, whichever is inside, or nearer f
		// when both are, the even one on a tie.
		next := digits + 1
		in, nextIn := vbl+out <= digits<<3, next<<3+out <= vbr
		switch {
		case in != nextIn:
			d = digits
			if nextIn {
				d = next
			}
		default:
			// A tie goes to the even one, but up for a power of two, as
			// strconv does (Go 1.26); there is one such tie, 2^-12 =
			// 0.000244140625, which both ...062 and ...063 read back as.
			d = next
			if cmp := int64(vb) - int64((digits+next)<<2); cmp < 0 || cmp == 0 && digits&1 == 0 && !s.narrow {
				d = digits
			}
		}
	}
	return appendDecimal(b, uint32(d), k)
}

// scaleBound is x = cp·g/2^96 as 2·floor(x), plus one when x is not an
// integer: g exceeds the true scale by less than one and cp < 2^62, so the
// product's high half is floor(x·2^32), or one more for an x less than
// 2^-34 below an integer. That this never changes an answer is what
// TestAppendFloat32All shows.
func scaleBound(g, cp uint64) uint64 {
	hi, _ := bits.Mul64(g, cp)
	return hi>>32<<1 | (hi&(1<<32-1)+(1<<32-1))>>32
}

// appendDecimal writes d·10^k (d > 0) as strconv's shortest %g does.
func appendDecimal(b []byte, d uint32, k int) []byte {
	for d%10 == 0 && d != 0 {
		d /= 10
		k++
	}
	var buf [10]byte
	i := len(buf)
	for d >= 100 {
		q := d / 100
		r := (d - q*100) * 2
		i -= 2
		buf[i], buf[i+1] = pairs[r], pairs[r+1]
		d = q
	}
	if d >= 10 {
		i -= 2
		buf[i], buf[i+1] = pairs[d*2], pairs[d*2+1]
	} else {
		i--
		buf[i] = byte('0' + d)
	}
	ds := buf[i:]
	// The value is 0.ds × 10^point.
	point := len(ds) + k
	switch exp := point - 1; {
	case exp < -4 || exp >= 6:
		b = append(b, ds[0])
		if len(ds) > 1 {
			b = append(b, '.')
			b = append(b, ds[1:]...)
		}
		b = append(b, 'e', '+')
		if exp < 0 {
			b[len(b)-1] = '-'
			exp = -exp
		}
		return append(b, byte('0'+exp/10), byte('0'+exp%10))
	case point <= 0:
		b = append(b, '0', '.')
		for ; point < 0; point++ {
			b = append(b, '0')
		}
		return append(b, ds...)
	case point >= len(ds):
		b = append(b, ds...)
		for ; point > len(ds); point-- {
			b = append(b, '0')
		}
		return b
	default:
		b = append(b, ds[:point]...)
		b = append(b, '.')
		return append(b, ds[point:]...)
	}
}

const pairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// float32Scale is how appendFloat32 scales a float32 of one biased
// exponent (q = max(bq, 1) - 150): by 10^-k, with k = floor(log10 of the
// interval's width, 2^q, or 3/4 of it for a narrow one), so that its
// scaled value's integer part holds its digits and the interval is less
// than ten wide. g is 10^-k·2^(63-e) rounded up, with e making it 64 bits,
// and h the shift that lines a bound up with g: cp·g/2^64 = x·2^32.
type float32Scale struct {
	g      uint64
	k      int16
	h      uint8
	narrow bool
}

// float32Scales holds [bq][0] for a float32 of biased exponent bq, and
// [bq][1] for the power of two 2^(bq-127), whose interval is narrow below;
// subnormals (bq 0) scale as the lowest normals, whose q they share.
// TestFloat32Scales checks every k against exact arithmetic.
var float32Scales = func() (t [255][2]float32Scale) {
	var pow10 [float32MaxK - float32MinK + 1]struct {
		g uint64
		e int
	}
	for k := float32MinK; k <= float32MaxK; k++ {
		p := &pow10[k-float32MinK]
		p.g, p.e = pow10Scale(k)
	}
	for bq := 1; bq < 255; bq++ {
		q := bq - 150
		for i, narrow := range []bool{false, true} {
			// log10 of 2^q or 3·2^(q-2) is never within float64's error
			// of an integer but at q = 0, where it is exactly 0.
			width := float64(q) * math.Log10(2)
			if narrow {
				width += math.Log10(0.75)
			}
			k := int(math.Floor(width))
			p := pow10[k-float32MinK]
			h := q + p.e + 33
			if h < 33 || h > 36 {
				panic(fmt.Sprintf("float32 scale of 2^%d: shift %d", q, h))
			}
			t[bq][i] = float32Scale{g: p.g, k: int16(k), h: uint8(h), narrow: narrow}
		}
	}
	t[0] = t[1]
	return t
}()

// The k of float32Scales: floor(log10) of 2^-149 to 2^104.
const (
	float32MinK = -45
	float32MaxK = 31
)

// pow10Scale is 10^-k·2^(63-e) rounded up, with e = floor(log2(10^-k)).
func pow10Scale(k int) (g uint64, e int) {
	num, den := big.NewInt(1), big.NewInt(1)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(k))), nil)
	if k < 0 {
		num = p
	} else {
		den = p
	}
	e = num.BitLen() - den.BitLen() // floor(log2) or one more
	if new(big.Int).Lsh(den, uint(max(e, 0))).Cmp(new(big.Int).Lsh(num, uint(max(-e, 0)))) > 0 {
		e--
	}
	num.Lsh(num, uint(max(63-e, 0)))
	den.Lsh(den, uint(max(e-63, 0)))
	num.Quo(num, den)
	if num.BitLen() != 64 || num.Uint64() == math.MaxUint64 {
		panic(fmt.Sprintf("10^%d: scale %v", -k, num))
	}
	return num.Uint64() + 1, e
}

func abs(k int) int { return max(k, -k) }
