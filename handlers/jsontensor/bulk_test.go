package jsontensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// The bulk readers are shortcuts: a column reads every body exactly as it
// does element at a time, its values, errors and final position included.

// bulkShapes are the tensors a body is read as, nested (with and without
// rows) and flat.
var bulkShapes = []struct {
	shape []int64
	rows  bool
	flat  bool
}{
	{[]int64{-1}, false, false},
	{[]int64{-1, -1}, true, false},
	{[]int64{-1, 3}, false, false},
	{[]int64{2, -1, 2}, true, false},
	{nil, false, true},
}

// elementwise is the column of dt as it reads without its bulk reader.
func elementwise(dt tensor.DType) Column {
	switch b := NewColumn(dt).(type) {
	case *buffer[float32]:
		return noBulk(b)
	case *buffer[float64]:
		return noBulk(b)
	case *buffer[int8]:
		return noBulk(b)
	case *buffer[int16]:
		return noBulk(b)
	case *buffer[int32]:
		return noBulk(b)
	case *buffer[int64]:
		return noBulk(b)
	case *buffer[uint8]:
		return noBulk(b)
	case *buffer[uint16]:
		return noBulk(b)
	case *buffer[uint32]:
		return noBulk(b)
	case *buffer[uint64]:
		return noBulk(b)
	}
	panic(fmt.Sprintf("no bulk reader for %v", dt))
}

// setCap gives the column an empty buffer of capacity n.
func (b *buffer[T]) setCap(n int) { b.data = make([]T, 0, n) }

func noBulk[T any](b *buffer[T]) Column {
	k := *b.kind
	k.bulk = nil
	b.kind = &k
	return b
}

// bulkDTypes are the dtypes with a bulk reader.
var bulkDTypes = []tensor.DType{tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
	tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64}

type readResult struct {
	err   *Error
	data  []uint64 // the elements' bits
	shape []int64
	i     int
	depth int
}

func readWith(col Column, body string, dt tensor.DType, shape []int64, rows, flat bool) readResult {
	var d Decoder
	d.Reset([]byte(body))
	// A small buffer, so that the bulk reader fills it and hands back:
	// Reserve would take a recycled column's buffer of a whole size class.
	col.(interface{ setCap(int) }).setCap(2)
	var r readResult
	if flat {
		if d.Next() != '[' {
			return r
		}
		r.err = col.Flat(&d, "x")
	} else {
		spec := &tensor.TensorSpec{Name: "x", DType: dt, Shape: shape}
		var w Walk
		w.Reset(spec, "in.", rows)
		if r.err = col.Nested(&d, &w); r.err == nil {
			r.shape = w.Shape()
		}
	}
	switch data := col.Tensor(nil).Data.(type) {
	case []float32:
		for _, v := range data {
			r.data = append(r.data, uint64(math.Float32bits(v)))
		}
	case []float64:
		for _, v := range data {
			r.data = append(r.data, math.Float64bits(v))
		}
	case []int8:
		r.data = appendBits(r.data, data)
	case []int16:
		r.data = appendBits(r.data, data)
	case []int32:
		r.data = appendBits(r.data, data)
	case []int64:
		r.data = appendBits(r.data, data)
	case []uint8:
		r.data = appendBits(r.data, data)
	case []uint16:
		r.data = appendBits(r.data, data)
	case []uint32:
		r.data = appendBits(r.data, data)
	case []uint64:
		r.data = appendBits(r.data, data)
	}
	r.i, r.depth = d.i, d.depth
	return r
}

func appendBits[T signed | unsigned](bits []uint64, data []T) []uint64 {
	for _, v := range data {
		bits = append(bits, uint64(v))
	}
	return bits
}

// checkBulk fails t if any column reads body differently with its bulk
// reader than without it.
func checkBulk(t *testing.T, body string) {
	for _, dt := range bulkDTypes {
		for _, s := range bulkShapes {
			want := readWith(elementwise(dt), body, dt, s.shape, s.rows, s.flat)
			got := readWith(NewColumn(dt), body, dt, s.shape, s.rows, s.flat)
			if want.err != nil && got.err != nil && reflect.DeepEqual(*want.err, *got.err) {
				want.err, got.err = nil, nil // compared; the pointers differ
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%v %v (rows %v, flat %v) of %q:\nbulk        %+v %v\nelementwise %+v %v",
					dt, s.shape, s.rows, s.flat, body, got, got.err, want, want.err)
			}
		}
	}
}

func FuzzBulk(f *testing.F) {
	for _, s := range []string{
		"[0.0010030090270812437, 0.0020060180541624875, 0.0030090270812437314]",
		"[[1, 2, 3], [4, 5, 6]]", "[[1,2],[3,4]]", "[[[1,2],[3,4]],[[5,6],[7,8]]]",
		"[1,2,]", "[1 ,2 , 3 ]", "[1,\t2,\n3,\r4]", "[01, 2]", "[1, -]", "[1, -a]", "[1, .5]", "[1, +1]",
		"[1, 1.]", "[1, 1.e5]", "[1, 1e]", "[1, 1e+]", "[1, 1E-5, 1e+5]", "[1, 1.5x]", "[1, 1.5.3]",
		"[1, NaN]", "[1, nan]", "[1, \"1\"]", "[1, [2]]", "[[1], 2]", "[1, 1e400]", "[1, 1e-400]",
		"[1, 3.4028235e38, 3.4028236e38, -3.4028236e38]", "[1, 65504, 65519.99, 65520, 3.3895314e38, 3.3895315e38]",
		"[1, 12345678901234567890, 1234567890123456789, 0.12345678901234567890123]",
		"[9.9999999999999999999, 99.999999999999999999, 1.234567890123456789, 0.1234567890123456789, 0.12345678901234567891]",
		"[1234567.1234567890123, 12345678.5, 0.0000000000000000001, 1.5E3, -0.5, -05]",
		"[1, 100000000000000000000000000000]", "[1, 0.000000000000000000000000001]",
		"[1, 0.123456789012345678901234567890, 2]", "[1, 0.1234567890123456789012345, 2]",
		"[1, -0, 0, -0.0, 0e5, 0.0e-999999, 1e0000000000000000000000000000]",
		"[1, 16777217, 16777217.0, 1.00000005960464477539062, 7.038531e-26]",
		"[1, 9.999999999999999e22, 1e22, 1e23, 1e-22, 1e-23]", "[1, 2", "[1, 2,", "[1, 2 ", "[]", "[[]]", "[[], []]",
		"[101, 2023, 7592, 1010, 2088, 102, 0, 0]", "[1, 999999999999999999, -999999999999999999, 1000000000000000000]",
		"[1, 9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809]",
		"[1, -0, 00, 0x1, 1E2, 2.0, 12a, 3]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkBulk(t, body)
		// Trailing whitespace changes nothing of what an array reads, and
		// puts the body's own end beyond fast32s' window: its numbers
		// then go through fast32s too, not only through the loop.
		checkBulk(t, body+strings.Repeat(" ", fastWindow))
		// And room before too: vector32s reads only numbers 32 bytes
		// or more into the body.
		checkBulk(t, strings.Repeat(" ", 32)+body+strings.Repeat(" ", vectorWindow))
	})
}

// TestBulkRandom compares the bulk readers with the elements on many
// arrays of numbers as Python, numpy and others write them, with an
// odd element or separator now and then.
func TestBulkRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	odd := []string{"01", "-", "1.", ".5", "+1", "1e", "1e+", "NaN", "\"1\"", "1.5x", "[2]", "true", "1e39",
		"65520", "3.3895315e38", "123456789012345678901234", "0.00000000000000000000000000000000001",
		"9.9999999999999999999", "1234567.1234567890123", "12345678.5", "1.5E3", "",
		"0.123456789012345678901234567890", "1.0000000000000000000000000001e5", "-0.333333333333333333333333333333"}
	seps := []string{",", ", ", " ,", ",\n  ", ",,"}
	for range 20000 {
		var sb strings.Builder
		rows, cols := 1+rng.IntN(3), 1+rng.IntN(20)
		sb.WriteByte('[')
		for r := range rows {
			if r > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('[')
			for c := range cols {
				if c > 0 {
					sep := ", "
					if rng.IntN(50) == 0 {
						sep = seps[rng.IntN(len(seps))]
					}
					sb.WriteString(sep)
				}
				var s string
				switch rng.IntN(7) {
				case 0:
					s = strconv.FormatFloat(float64(math.Float32frombits(rng.Uint32())), 'g', -1, 64)
				case 1:
					s = strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(60)-30)), 'g', 17, 64)
				case 2:
					s = strconv.FormatFloat(rng.Float64(), 'g', 17, 64)
				case 3:
					s = strconv.FormatFloat(float64(rng.IntN(100000))/math.Pow(10, float64(rng.IntN(8))), 'f', -1, 64)
				case 4:
					s = strconv.FormatFloat(rng.NormFloat64()*1e5, 'e', rng.IntN(20), 64)
				case 5:
					s = strconv.FormatInt(rng.Int64()>>rng.IntN(64), 10)
				case 6: // float32 midpoints, printed exactly
					m := math.Float32frombits(rng.Uint32()&0x3fffffff | 0x30000000)
					s = strconv.FormatFloat((float64(m)+float64(math.Nextafter32(m, 10)))/2, 'g', -1, 64)
				}
				if rng.IntN(100) == 0 {
					s = odd[rng.IntN(len(odd))]
				}
				sb.WriteString(s)
			}
			sb.WriteByte(']')
		}
		sb.WriteByte(']')
		checkBulk(t, sb.String())
	}
}

// TestBulkLongFractions pins the fraction lengths at the edge of what a
// uint64 holds: 0. and 14 to 24 digits, all nines (which past 19 digits
// overflow it) or random, signed or not, each body read by the bulk
// readers as element at a time. A reader that took a 20th digit fails.
func TestBulkLongFractions(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for n := 14; n <= 24; n++ {
		for _, digit := range []func() byte{func() byte { return '9' }, func() byte { return byte('0' + rng.IntN(10)) }} {
			var sb strings.Builder
			sb.WriteByte('[')
			for k := range 64 {
				if k > 0 {
					sb.WriteString(", ")
				}
				if k%3 == 1 {
					sb.WriteByte('-')
				}
				sb.WriteString("0.")
				for range n {
					sb.WriteByte(digit())
				}
			}
			sb.WriteByte(']')
			checkBulk(t, sb.String())
		}
	}
}

// TestBulkTakesPython checks that float32s reads a whole row as Python's
// json writes it, so that the comparisons above compare the bulk path
// and not only its hand-backs.
func TestBulkTakesPython(t *testing.T) {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range 784 {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.FormatFloat(float64(i%1000)/997+1e-9*float64(i), 'g', 17, 64))
	}
	sb.WriteString("]]")
	var d Decoder
	d.Reset([]byte(sb.String()))
	d.i = 1
	dst := make([]float32, 1000)
	n, after := float32s(&d, dst, tensor.Float32)
	if n != 784 || !after || d.b[d.i] != ']' {
		t.Fatalf("float32s read %d elements (after %v) and stopped at %d, %q", n, after, d.i, d.b[d.i:min(d.i+20, len(d.b))])
	}
	// fast32s takes every number but those within its window of the end.
	k, i, stop := fast32s(d.b, 1, dst, tensor.Float32)
	if k < 784-3 || stop || i < uint(len(d.b)-fastWindow-25) {
		t.Errorf("fast32s read %d elements (stop %v) up to %d of %d", k, stop, i, len(d.b))
	}
}

// TestBulkIntegers compares ints with the elements on arrays of
// integers of every length up to its 19-digit bound, and each integer
// type's range,
// with an odd element now and then, and checks that it takes a row of
// token ids and one of pixels whole, so that the comparison is of the bulk
// path.
func TestBulkIntegers(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	odd := []string{"-0", "00", "01", "-01", "1.0", "1e3", "1E3", "-", "+1", "1x", "\"1\"", "true", "9223372036854775807",
		"-9223372036854775808", "9223372036854775808", "-9223372036854775809", "99999999999999999999", "",
		"127", "128", "-128", "-129", "255", "256", "32767", "32768", "-32768", "-32769", "65535", "65536",
		"2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
		"18446744073709551615", "18446744073709551616", "1000000000000000000", "9999999999999999999"}
	for range 20000 {
		var sb strings.Builder
		sb.WriteByte('[')
		for c := range 1 + rng.IntN(20) {
			if c > 0 {
				sb.WriteString([]string{",", ", ", " , ", ",\n"}[rng.IntN(4)])
			}
			var s string
			switch digits := 1 + rng.IntN(20); {
			case rng.IntN(8) == 0:
				s = odd[rng.IntN(len(odd))]
			case digits < 19:
				s = strconv.FormatUint(rng.Uint64N(uint64(math.Pow10(digits))), 10)
			default:
				s = strconv.FormatUint(rng.Uint64(), 10)
			}
			if rng.IntN(3) == 0 {
				s = "-" + s
			}
			sb.WriteString(s)
		}
		sb.WriteByte(']')
		checkBulk(t, sb.String())
	}

	var sb strings.Builder
	sb.WriteByte('[')
	for i := range 512 {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa((i * 7919) % 30522))
	}
	sb.WriteString("]]")
	var d Decoder
	d.Reset([]byte(sb.String()))
	d.i = 1
	dst := make([]int64, 1000)
	if n, after := ints(&d, dst, tensor.Int64); n != 512 || !after || d.b[d.i] != ']' || dst[511] != (511*7919)%30522 {
		t.Fatalf("ints read %d elements (after %v, last %d) and stopped at %d", n, after, dst[max(n-1, 0)], d.i)
	}
	// A row of pixels, every uint8 value.
	sb.Reset()
	sb.WriteByte('[')
	for i := range 256 {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(255 - i))
	}
	sb.WriteString("]]")
	d.Reset([]byte(sb.String()))
	d.i = 1
	px := make([]uint8, 1000)
	if n, after := ints(&d, px, tensor.Uint8); n != 256 || !after || d.b[d.i] != ']' || px[0] != 255 || px[255] != 0 {
		t.Fatalf("ints read %d uint8 (after %v) and stopped at %d", n, after, d.i)
	}
}

// BenchmarkInt64s reads 32 rows of 512 token ids (0 to 30521, as a BERT
// vocabulary's), with the bulk reader and element at a time.
func BenchmarkInt64s(b *testing.B) {
	benchmarkRows(b, tensor.Int64, func(k int) string { return strconv.Itoa(k * 7919 % 30522) })
}

// BenchmarkFloat64s reads 32 rows of 512 float64s written as Python's
// repr writes them (the shortest that reads back), normal around 0.
func BenchmarkFloat64s(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	benchmarkRows(b, tensor.Float64, func(int) string { return strconv.FormatFloat(rng.NormFloat64(), 'g', -1, 64) })
}

// BenchmarkFloat32s reads 32 rows of 512 float32s in Python's shortest
// reprs, whose varying length is what the reader's branches cannot
// predict (BenchmarkDecodePredict's all have 17 significant digits):
// uniform in [0, 1), as the HTTP benchmark's bodies (15 to 19 fraction
// digits, most often 16 or 17), and normal, as many negative as not, as
// standardised features are.
func BenchmarkFloat32s(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	b.Run("uniform", func(b *testing.B) {
		benchmarkRows(b, tensor.Float32, func(int) string { return strconv.FormatFloat(rng.Float64(), 'g', -1, 64) })
	})
	b.Run("normal", func(b *testing.B) {
		benchmarkRows(b, tensor.Float32, func(int) string { return strconv.FormatFloat(rng.NormFloat64(), 'g', -1, 64) })
	})
	b.Run("exponent", func(b *testing.B) { // %e: no number for the fast paths
		benchmarkRows(b, tensor.Float32, func(int) string { return strconv.FormatFloat(rng.NormFloat64(), 'e', 7, 64) })
	})
}

// benchmarkRows reads 32 rows of 512 elements of dt, element k written
// by elem, with the bulk reader and element at a time.
func benchmarkRows(b *testing.B, dt tensor.DType, elem func(k int) string) {
	var sb strings.Builder
	sb.WriteByte('[')
	for r := range 32 {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('[')
		for i := range 512 {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(elem(r*512 + i))
		}
		sb.WriteByte(']')
	}
	sb.WriteByte(']')
	body := []byte(sb.String())
	spec := &tensor.TensorSpec{Name: "x", DType: dt, Shape: []int64{-1, 512}}
	for _, c := range []struct {
		name string
		col  func() Column
	}{
		{"bulk", func() Column { return NewColumn(dt) }},
		{"elementwise", func() Column { return elementwise(dt) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			var d Decoder
			var w Walk
			for b.Loop() {
				d.Reset(body)
				w.Reset(spec, "", true)
				col := c.col()
				if err := col.Nested(&d, &w); err != nil {
					b.Fatal(err)
				}
				Release([]tensor.Tensor{col.Tensor(w.Shape())})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*32*512), "ns/number")
		})
	}
}

// TestBulkTakesFloat64 checks that float64s takes Python's reprs, the
// short ones through Clinger's path and those past 2^53 (17 digits)
// through strconv, so that the comparisons above compare the bulk path;
// a fraction longer than its 24-digit step goes to the leaves.
func TestBulkTakesFloat64(t *testing.T) {
	body := "[5.1, 3.5, 0.2, -1.25, 6.092915176196178, 1e-7, 12345.678, 0.1234567890123456, -0.12345678901234567, " +
		"0.1234567890123456789012345678]"
	var d Decoder
	d.Reset([]byte(body))
	d.i = 1
	dst := make([]float64, 16)
	n, after := float64s(&d, dst, tensor.Float64)
	if n != 9 || after || !strings.HasPrefix(body[d.i:], "0.1234567890123456789012345678]") {
		t.Fatalf("float64s read %d elements (after %v) and stopped at %q", n, after, body[d.i:])
	}
	for i, want := range []float64{5.1, 3.5, 0.2, -1.25, 6.092915176196178, 1e-7, 12345.678, 0.1234567890123456, -0.12345678901234567} {
		if dst[i] != want {
			t.Errorf("element %d: %v, want %v", i, dst[i], want)
		}
	}
}
