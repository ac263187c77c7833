//go:build compat

package compat

// The suite's own encoding of tensors on the wire, written from the Open
// Inference Protocol's binary tensor extension (little-endian, row-major,
// BYTES as a 4-byte length then the bytes) and IEEE 754, not taken from
// the server's code, so that a mistake there shows here.

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"
)

// jsonData is an input's data for a JSON body: numbers (halves as their
// values, which are exact) or strings.
func jsonData(in Tensor) ([]any, error) {
	if in.Datatype == "BYTES" {
		return in.Data, nil
	}
	f, err := in.Floats()
	if err != nil {
		return nil, err
	}
	out := make([]any, len(f))
	for i, v := range f {
		out[i] = v
	}
	return out, nil
}

// encodeRaw is an input's binary tensor data.
func encodeRaw(in Tensor) ([]byte, error) {
	var b []byte
	le := binary.LittleEndian
	switch in.Datatype {
	case "BYTES":
		s, err := in.Strings()
		if err != nil {
			return nil, err
		}
		for _, v := range s {
			b = le.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
		return b, nil
	case "FP16", "BF16":
		if len(in.Bits) != Elements(in.Shape) {
			return nil, fmt.Errorf("input %q: %d bits for %d elements", in.Name, len(in.Bits), Elements(in.Shape))
		}
		for _, h := range in.Bits {
			b = le.AppendUint16(b, h)
		}
		return b, nil
	}
	f, err := in.Floats()
	if err != nil {
		return nil, err
	}
	for _, v := range f {
		switch in.Datatype {
		case "FP32":
			b = le.AppendUint32(b, math.Float32bits(float32(v)))
		case "FP64":
			b = le.AppendUint64(b, math.Float64bits(v))
		case "INT64":
			b = le.AppendUint64(b, uint64(int64(v)))
		case "INT32":
			b = le.AppendUint32(b, uint32(int32(v)))
		case "INT16":
			b = le.AppendUint16(b, uint16(int16(v)))
		case "UINT8":
			b = append(b, uint8(v))
		case "INT8":
			b = append(b, uint8(int8(v)))
		default:
			return nil, fmt.Errorf("input %q: no binary encoding here for %s", in.Name, in.Datatype)
		}
	}
	return b, nil
}

// decodeRaw is a binary output's data, as JSON would give it.
func decodeRaw(dt string, b []byte) ([]any, error) {
	le := binary.LittleEndian
	if dt == "BYTES" {
		var out []any
		for len(b) > 0 {
			if len(b) < 4 || int(le.Uint32(b)) > len(b)-4 {
				return nil, fmt.Errorf("BYTES element %d: truncated", len(out))
			}
			n := int(le.Uint32(b))
			out = append(out, string(b[4:4+n]))
			b = b[4+n:]
		}
		return out, nil
	}
	size := map[string]int{"FP32": 4, "FP64": 8, "FP16": 2, "BF16": 2, "INT64": 8, "INT32": 4, "INT16": 2, "INT8": 1, "UINT8": 1, "BOOL": 1}[dt]
	if size == 0 || len(b)%size != 0 {
		return nil, fmt.Errorf("%d bytes of %s", len(b), dt)
	}
	out := make([]any, len(b)/size)
	for i := range out {
		e := b[i*size:]
		var v float64
		switch dt {
		case "FP32":
			v = float64(math.Float32frombits(le.Uint32(e)))
		case "FP64":
			v = math.Float64frombits(le.Uint64(e))
		case "FP16":
			v = half(le.Uint16(e))
		case "BF16":
			v = float64(math.Float32frombits(uint32(le.Uint16(e)) << 16))
		case "INT64":
			v = float64(int64(le.Uint64(e)))
		case "INT32":
			v = float64(int32(le.Uint32(e)))
		case "INT16":
			v = float64(int16(le.Uint16(e)))
		case "INT8":
			v = float64(int8(e[0]))
		case "UINT8", "BOOL":
			v = float64(e[0])
		}
		out[i] = v
	}
	return out, nil
}

// half is the value of IEEE 754 binary16 bits.
func half(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, man := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(man, -24)
	case 31:
		if man == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+man/1024, exp-15)
}

// nest shapes flat data as nested arrays; rank 0 is the bare value.
func nest(flat []any, shape []int64) any {
	if len(shape) == 0 {
		return flat[0]
	}
	if len(shape) == 1 {
		return flat
	}
	n := len(flat) / max(int(shape[0]), 1)
	out := make([]any, shape[0])
	for i := range out {
		out[i] = nest(flat[i*n:(i+1)*n], shape[1:])
	}
	return out
}

// flatten is nested JSON arrays as flat data and the shape they show.
func flatten(v any) ([]any, []int64) {
	a, ok := v.([]any)
	if !ok {
		return []any{v}, nil
	}
	if len(a) == 0 {
		return nil, []int64{0}
	}
	var flat []any
	var inner []int64
	for _, e := range a {
		f, s := flatten(e)
		flat = append(flat, f...)
		inner = s
	}
	return flat, append([]int64{int64(len(a))}, inner...)
}

// compare checks got (numbers or strings, row-major) against the
// reference output w, whole or by its summary, within its tolerance.
func compare(t *testing.T, where string, w Tensor, got []any) {
	t.Helper()
	if w.Datatype == "BYTES" {
		want, _ := w.Strings()
		if !slices.Equal(toStrings(got), want) {
			t.Errorf("%s: output %q is %q, want %q", where, w.Name, got, want)
		}
		return
	}
	g := make([]float64, len(got))
	for i, v := range got {
		f, ok := v.(float64)
		if !ok {
			t.Errorf("%s: output %q element %d is %T %v, not a number", where, w.Name, i, v, v)
			return
		}
		g[i] = f
	}
	tol := w.Tolerance
	if w.Summary == nil {
		want, err := w.Floats()
		if err != nil {
			t.Fatal(err)
		}
		if len(g) != len(want) {
			t.Errorf("%s: output %q has %d elements, want %d", where, w.Name, len(g), len(want))
			return
		}
		bad := 0
		for i := range want {
			if !tol.Within(w.Datatype, g[i], want[i]) {
				if bad++; bad <= 5 {
					t.Errorf("%s: output %q element %d is %v, want %v (tolerance %+v)", where, w.Name, i, g[i], want[i], tol)
				}
			}
		}
		if bad > 5 {
			t.Errorf("%s: output %q: %d elements out of tolerance in all", where, w.Name, bad)
		}
		return
	}
	s := w.Summary
	if len(g) != s.Count {
		t.Errorf("%s: output %q has %d elements, want %d", where, w.Name, len(g), s.Count)
		return
	}
	var sum, abs float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range g {
		sum += v
		abs += math.Abs(v)
		lo, hi = min(lo, v), max(hi, v)
	}
	// The sums may drift by each element's tolerance; errors that are not
	// all of one sign add up as the root of the count, not the count.
	agg := Tolerance{Abs: tol.Abs * math.Sqrt(float64(s.Count)), Rel: tol.Rel}
	for _, c := range []struct {
		what      string
		got, want float64
		tol       *Tolerance
	}{{"sum", sum, s.Sum, &Tolerance{Abs: agg.Abs + agg.Rel*s.AbsSum}}, {"sum of |x|", abs, s.AbsSum, &agg}, {"min", lo, s.Min, tol}, {"max", hi, s.Max, tol}} {
		if !c.tol.Within(w.Datatype, c.got, c.want) {
			t.Errorf("%s: output %q: %s is %v, want %v", where, w.Name, c.what, c.got, c.want)
		}
	}
	for _, p := range s.Samples {
		if i := int(p[0]); !tol.Within(w.Datatype, g[i], p[1]) {
			t.Errorf("%s: output %q element %d is %v, want %v (tolerance %+v)", where, w.Name, i, g[i], p[1], tol)
		}
	}
}

func toStrings(a []any) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i] = fmt.Sprint(v)
	}
	return out
}

// compareMaps checks a ZipMap output: one object per row, label → score.
func compareMaps(t *testing.T, where string, w Tensor, got any) {
	t.Helper()
	rows, ok := got.([]any)
	if !ok || len(rows) != len(w.Maps) {
		t.Errorf("%s: output %q is %v, want %d maps", where, w.Name, got, len(w.Maps))
		return
	}
	for i, want := range w.Maps {
		m, ok := rows[i].(map[string]any)
		if !ok || len(m) != len(want) {
			t.Errorf("%s: output %q row %d is %v, want %v", where, w.Name, i, rows[i], want)
			continue
		}
		for k, v := range want {
			if g, ok := m[k].(float64); !ok || !w.Tolerance.Within("FP32", g, v) {
				t.Errorf("%s: output %q row %d label %s is %v, want %v", where, w.Name, i, k, m[k], v)
			}
		}
	}
}
