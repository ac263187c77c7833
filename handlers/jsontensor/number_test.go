package jsontensor

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// FuzzNumber checks the decoder's own number conversions against strconv,
// bit for bit: they must round exactly as strconv does, or defer to it.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "5.1", "0.1", "0.10000000149011612", "3.4028235e38", "3.4028236e38",
		"1e-45", "1.401298464324817e-45", "123456789012345678901234", "0.000123", "9007199254740993",
		"1.00000005960464477539062", "16777217", "-1.5e-7", "7.038531e-26", "1e22", "1e23", "4.9e-324"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 0 && KindOf(s[0]) == "a number" {
			checkNumber(t, s, false)
		}
	})
}

// checkNumber fails t if the decoder's conversions of s disagree with
// strconv, and reports whether float32 took the fast path. A string that is
// not one whole JSON number is a failure only when must is set.
func checkNumber(t *testing.T, s string, must bool) (fast bool) {
	d := Decoder{b: []byte(s)}
	if err := d.number(); err != nil || d.i != len(s) {
		if must {
			t.Fatalf("number(%s): %v at %d", s, err, d.i)
		}
		return false
	}
	n := &d.num
	v32, fast := n.float32()
	if want, _ := strconv.ParseFloat(s, 32); fast && math.Float32bits(v32) != math.Float32bits(float32(want)) {
		t.Fatalf("float32(%s) = %v, strconv says %v", s, v32, float32(want))
	}
	v64, ok := n.float64()
	if want, _ := strconv.ParseFloat(s, 64); ok && math.Float64bits(v64) != math.Float64bits(want) {
		t.Fatalf("float64(%s) = %v, strconv says %v", s, v64, want)
	}
	if n.integral && n.digits <= 19 {
		if want, err := strconv.ParseUint(strings.TrimPrefix(s, "-"), 10, 64); err != nil || want != n.mant {
			t.Fatalf("mantissa of %s = %d, strconv says %d", s, n.mant, want)
		}
	}
	return fast
}

// TestNumberRandom compares the number conversions with strconv on many
// random numbers of the shapes Python and numpy write.
func TestNumberRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fast := 0
	const count = 300000
	for i := range count {
		var s string
		switch i % 5 {
		case 0: // float64 repr of a float32, as numpy.float32.tolist() gives
			s = strconv.FormatFloat(float64(math.Float32frombits(rng.Uint32()&0x7fffffff)), 'g', -1, 64)
		case 1: // 17 significant digits
			s = strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(40)-20)), 'g', 17, 64)
		case 2: // few digits
			s = strconv.FormatFloat(float64(rng.IntN(100000))/math.Pow(10, float64(rng.IntN(8))), 'f', -1, 64)
		case 3: // float32 midpoints, printed exactly
			m := math.Float32frombits(rng.Uint32()&0x3fffffff | 0x30000000)
			s = strconv.FormatFloat((float64(m)+float64(math.Nextafter32(m, 10)))/2, 'g', -1, 64)
		case 4: // integers
			s = strconv.FormatInt(rng.Int64()>>rng.IntN(64), 10)
		}
		if !strings.ContainsAny(s, "NI") && checkNumber(t, s, true) {
			fast++
		}
	}
	t.Logf("%d of %d took the float32 fast path", fast, count)
}

// TestReciprocalScaling pins the bound fast32s' rounding check relies on:
// a mant below 2^63 times the float64 nearest 10^-exp (exp up to 19, as
// fast32s takes) is within 3 units of the last place of mant / 10^exp,
// computed exactly here; round32 counts 16 units either side of a
// float32 midpoint as too near to tell.
func TestReciprocalScaling(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	worst := 0.0
	for i := range 200000 {
		mant := rng.Uint64() >> (1 + rng.IntN(63))
		if mant == 0 {
			continue
		}
		exp := i % 23 // up to the 22 of vector32s
		got := float64(int64(mant)) * invPow10[exp]
		exact := new(big.Rat).SetFrac(new(big.Int).SetUint64(mant), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
		diff := new(big.Rat).Sub(new(big.Rat).SetFloat64(got), exact)
		ulp := math.Nextafter(got, math.Inf(1)) - got
		units, _ := new(big.Rat).Quo(diff.Abs(diff), new(big.Rat).SetFloat64(ulp)).Float64()
		if worst = max(worst, units); units > 3 {
			t.Fatalf("%d × 10^-%d: %v is %.2f units off", mant, exp, got, units)
		}
	}
	t.Logf("worst: %.2f units", worst)
}
