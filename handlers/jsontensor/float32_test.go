package jsontensor

import (
	"flag"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

var float32All = flag.Bool("float32-all", false, "TestAppendFloat32All: compare every float32 with strconv (about 3.5 minutes on two cores)")

// checkFloat32 compares appendFloat32 with strconv, the reference, for the
// float32 of bit pattern u (NaN and ±Inf are not appendFloat32's), and
// reports whether they agree. It does not stop the test, so that
// TestAppendFloat32All's workers may call it.
func checkFloat32(t testing.TB, buf []byte, u uint32) ([]byte, bool) {
	f := math.Float32frombits(u)
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return buf, true
	}
	buf = appendFloat32(buf[:0], f)
	want := strconv.AppendFloat(nil, float64(f), 'g', -1, 32)
	if string(buf) != string(want) {
		t.Errorf("appendFloat32(%#08x = %v) = %q, strconv %q", u, f, buf, want)
		return buf, false
	}
	return buf, true
}

// TestAppendFloat32 pins appendFloat32 to strconv on the values where a
// formatter goes wrong (both ends of every exponent's significands, where
// the interval is narrow below, subnormals, the %e/%f switch, ties), on a
// stride through all 2^32 bit patterns and on random ones.
func TestAppendFloat32(t *testing.T) {
	var buf []byte
	check := func(u uint32) {
		var ok bool
		if buf, ok = checkFloat32(t, buf, u); !ok {
			t.FailNow()
		}
	}
	for _, f := range []float32{0, 1, -1, 0.1, 0.2, 0.3, 1e-45, 1.17549435e-38, 3.4028235e38, 1e-4, 1e-5,
		9.9999e-5, 123456, 999999, 1e6, 1234567, 16777216, 16777217, 0.00018757903, 0.8161349, 100, 1e10, 1.5e-7} {
		check(math.Float32bits(f))
	}
	for bq := uint32(0); bq < 255; bq++ {
		for _, t0 := range []uint32{0, 1, 2, 3, 1 << 22, 1<<23 - 2, 1<<23 - 1} {
			for _, sign := range []uint32{0, 1 << 31} {
				check(sign | bq<<23 | t0)
			}
		}
	}
	for u := uint32(0); u < 1<<24; u += 7 { // subnormals and the lowest normals
		check(u)
	}
	const stride = 1009 // prime: every bit of the pattern varies
	for u := uint64(0); u < 1<<32; u += stride {
		check(uint32(u))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 20 {
		check(r.Uint32())
	}
}

// TestAppendFloat32All compares every float32 with strconv: the proof
// that scaleBound's multiplication is exact enough. It takes minutes, so it
// runs only with -float32-all.
func TestAppendFloat32All(t *testing.T) {
	if !*float32All {
		t.Skip("-float32-all not set")
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var buf []byte
			for u := uint64(w); u < 1<<32; u += uint64(workers) {
				var ok bool
				if buf, ok = checkFloat32(t, buf, uint32(u)); !ok {
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestFloat32Scales checks every scale against exact arithmetic: k is
// floor(log10) of the interval's width, g is 10^-k·2^(63-e) rounded up to
// 64 bits, and h lines a bound of 2^q up with it (h = q + e + 33).
func TestFloat32Scales(t *testing.T) {
	pow := func(base int64, n int) *big.Rat {
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(int64(max(n, -n))), nil))
		if n < 0 {
			p.Inv(p)
		}
		return p
	}
	for bq := 1; bq < 255; bq++ {
		q := bq - 150
		for i, s := range float32Scales[bq] {
			width := pow(2, q)
			if i == 1 {
				width.Mul(width, big.NewRat(3, 4))
			}
			k := int(s.k)
			if width.Cmp(pow(10, k)) < 0 || width.Cmp(pow(10, k+1)) >= 0 {
				t.Fatalf("bq %d/%d: 10^%d is not floor(log10(%v))", bq, i, k, width.FloatString(3))
			}
			e := int(s.h) - 33 - q
			exact := new(big.Rat).Mul(pow(10, -k), pow(2, 63-e))
			g := new(big.Rat).SetInt(new(big.Int).SetUint64(s.g))
			below := new(big.Rat).Sub(g, big.NewRat(1, 1))
			if exact.Cmp(pow(2, 63)) < 0 || exact.Cmp(pow(2, 64)) >= 0 || below.Cmp(exact) > 0 || exact.Cmp(g) >= 0 {
				t.Fatalf("bq %d/%d: g %d is not 10^%d·2^%d rounded up to 64 bits", bq, i, s.g, -k, 63-e)
			}
			if s.narrow != (i == 1) {
				t.Fatalf("bq %d/%d: narrow %v", bq, i, s.narrow)
			}
		}
	}
	if float32Scales[0] != float32Scales[1] {
		t.Fatal("subnormals do not scale as the lowest normals")
	}
}

func FuzzAppendFloat32(f *testing.F) {
	for _, u := range []uint32{0, 1, 0x3f800000, 0x00800000, 0x7f7fffff, 0x80000001} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u uint32) { checkFloat32(t, nil, u) })
}

// BenchmarkAppendFloat32 writes a model's typical answers (softmax
// probabilities, logits) against strconv.
func BenchmarkAppendFloat32(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var vals [1024]float32
	for i := range vals {
		if i%2 == 0 {
			vals[i] = r.Float32() // a probability
		} else {
			vals[i] = float32(r.NormFloat64() * 5) // a logit
		}
	}
	for _, bc := range []struct {
		name string
		f    func([]byte, float32) []byte
	}{
		{"jsontensor", appendFloat32},
		{"strconv", func(b []byte, f float32) []byte { return strconv.AppendFloat(b, float64(f), 'g', -1, 32) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 32)
			for i := 0; b.Loop(); i++ {
				buf = bc.f(buf[:0], vals[i&1023])
			}
		})
	}
}
