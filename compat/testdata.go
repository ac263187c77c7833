package compat

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Reference is compat/testdata/<model>.json, written by
// compat/reference/reference.mjs: the inputs of each case and the outputs
// the reference run gave.
type Reference struct {
	Model string `json:"model"`
	// Reference says where the expected outputs come from.
	Reference string `json:"reference"`
	Cases     []Case `json:"cases"`
}

// Case is one request and its expected answer.
type Case struct {
	Name    string   `json:"name"`
	Inputs  []Tensor `json:"inputs"`
	Outputs []Tensor `json:"outputs"`
	// Requested, when set, are the only outputs asked for on /v2; the
	// others are not compared (and /v1, which returns every output, is
	// not asked).
	Requested []string `json:"requested,omitempty"`
}

// Tensor is an input or an expected output, in the Open Inference
// Protocol's terms (datatype, shape, row-major data).
type Tensor struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
	// Data holds numbers, or strings for BYTES.
	Data []any `json:"data,omitempty"`
	// Bits are the IEEE bits of FP16 and BF16 data, for binary requests.
	Bits []uint16 `json:"bits,omitempty"`
	// Random, instead of Data, makes FP32 data with Random (xorshift32).
	Random *RandomSpec `json:"random,omitempty"`
	// Summary, instead of Data, describes a large output.
	Summary *Summary `json:"summary,omitempty"`
	// Maps are a ZipMap output's rows (datatype ZIPMAP).
	Maps []map[string]float64 `json:"maps,omitempty"`
	// Tolerance of a float output; nil is exact.
	Tolerance *Tolerance `json:"tolerance,omitempty"`
}

// RandomSpec is a generated input: Count values uniform in [Min, Max).
type RandomSpec struct {
	Seed uint32  `json:"seed"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// Summary is a large output: its element count, sum, sum of absolute
// values, extremes and evenly spaced samples [flat index, value].
type Summary struct {
	Count   int          `json:"count"`
	Sum     float64      `json:"sum"`
	AbsSum  float64      `json:"abs_sum"`
	Min     float64      `json:"min"`
	Max     float64      `json:"max"`
	Samples [][2]float64 `json:"samples"`
}

// Tolerance bounds |got - want| by Abs + Rel·|want|, or, for FP16 and
// BF16, by ULPs units in the last place of want.
type Tolerance struct {
	Abs  float64 `json:"abs"`
	Rel  float64 `json:"rel"`
	ULPs int     `json:"ulps"`
}

// Within reports whether got is close enough to want for a tensor of
// datatype dt.
func (tol *Tolerance) Within(dt string, got, want float64) bool {
	if tol == nil {
		return got == want
	}
	if tol.ULPs > 0 {
		mant := map[string]int{"FP16": 10, "BF16": 7, "FP32": 23}[dt]
		_, exp := math.Frexp(want)
		return math.Abs(got-want) <= float64(tol.ULPs)*math.Ldexp(1, exp-1-mant)
	}
	return math.Abs(got-want) <= tol.Abs+tol.Rel*math.Abs(want)
}

// Random is the generator of compat/reference/reference.mjs: xorshift32
// from seed, each value min + (max - min)·(top 24 bits / 2^24), rounded to
// float32, computed in the same order so that both make the same bits.
func Random(spec RandomSpec, n int) []float32 {
	x := spec.Seed
	out := make([]float32, n)
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		out[i] = float32(spec.Min + (spec.Max-spec.Min)*(float64(x>>8)/16777216))
	}
	return out
}

// Elements is the element count of a shape (1 for rank 0).
func Elements(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// Floats are a numeric tensor's data as float64, generated when Random.
func (t Tensor) Floats() ([]float64, error) {
	if t.Random != nil {
		r := Random(*t.Random, Elements(t.Shape))
		out := make([]float64, len(r))
		for i, v := range r {
			out[i] = float64(v)
		}
		return out, nil
	}
	return elements[float64](t, "a number")
}

// Strings are a BYTES tensor's data.
func (t Tensor) Strings() ([]string, error) { return elements[string](t, "a string") }

// elements are t's data as Ts, or an error naming the first that is not.
func elements[T any](t Tensor, what string) ([]T, error) {
	out := make([]T, len(t.Data))
	for i, v := range t.Data {
		e, ok := v.(T)
		if !ok {
			return nil, fmt.Errorf("%s: element %d is %T, not %s", t.Name, i, v, what)
		}
		out[i] = e
	}
	return out, nil
}

// ReadReference reads the reference of the model named name from dir.
func ReadReference(dir, name string) (*Reference, error) {
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return nil, err
	}
	var r Reference
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reference of %s: %w", name, err)
	}
	if r.Model != name || len(r.Cases) == 0 {
		return nil, fmt.Errorf("reference of %s: names model %q and has %d cases", name, r.Model, len(r.Cases))
	}
	return &r, nil
}
