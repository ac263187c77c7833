package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

func TestMain(m *testing.M) {
	lib, err := FindLibrary("..")
	if err == nil {
		_, err = Init(lib)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// expected is a model's expected.json: inputs and outputs computed with
// numpy/sklearn when the model was exported, not by this server.
type expected struct {
	Cases []struct {
		Inputs  map[string]json.RawMessage `json:"inputs"`
		Outputs map[string]json.RawMessage `json:"outputs"`
	} `json:"cases"`
	Atol float64 `json:"atol"`
}

func readExpected(t *testing.T, path string) expected {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

// flatten turns nested JSON arrays into a shape and row-major leaves.
func flatten(raw json.RawMessage) ([]int64, []any) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	d.Decode(&v)
	var shape []int64
	for x := v; ; {
		a, ok := x.([]any)
		if !ok {
			break
		}
		shape = append(shape, int64(len(a)))
		if len(a) == 0 {
			break
		}
		x = a[0]
	}
	var leaves []any
	var walk func(any)
	walk = func(x any) {
		if a, ok := x.([]any); ok {
			for _, y := range a {
				walk(y)
			}
			return
		}
		leaves = append(leaves, x)
	}
	walk(v)
	return shape, leaves
}

// testTensor builds a tensor.Tensor of dtype d from expected.json's nested arrays.
func testTensor(t *testing.T, d tensor.DType, raw json.RawMessage) tensor.Tensor {
	t.Helper()
	shape, leaves := flatten(raw)
	buf := tensor.NewBuffer(d, len(leaves))
	for i, x := range leaves {
		switch b := buf.(type) {
		case []float32:
			f, _ := x.(json.Number).Float64()
			b[i] = float32(f)
		case []float64:
			b[i], _ = x.(json.Number).Float64()
		case []bool:
			b[i] = x.(bool)
		case []string:
			b[i] = x.(string)
		default:
			setInt(t, buf, i, string(x.(json.Number)))
		}
	}
	return tensor.Tensor{DType: d, Shape: shape, Data: buf}
}

func setInt(t *testing.T, buf any, i int, s string) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		u, err2 := strconv.ParseUint(s, 10, 64)
		if err2 != nil {
			t.Fatalf("integer %s: %v", s, err)
		}
		buf.([]uint64)[i] = u
		return
	}
	switch b := buf.(type) {
	case []int8:
		b[i] = int8(n)
	case []int16:
		b[i] = int16(n)
	case []int32:
		b[i] = int32(n)
	case []int64:
		b[i] = n
	case []uint8:
		b[i] = uint8(n)
	case []uint16:
		b[i] = uint16(n)
	case []uint32:
		b[i] = uint32(n)
	case []uint64:
		b[i] = uint64(n)
	}
}

// asFloats reads any numeric or bool buffer as float64 for comparison.
func asFloats(data any) []float64 {
	switch d := data.(type) {
	case []bool:
		out := make([]float64, len(d))
		for i, b := range d {
			if b {
				out[i] = 1
			}
		}
		return out
	case []float32:
		return toF64(d)
	case []float64:
		return d
	case []int8:
		return toF64(d)
	case []int16:
		return toF64(d)
	case []int32:
		return toF64(d)
	case []int64:
		return toF64(d)
	case []uint8:
		return toF64(d)
	case []uint16:
		return toF64(d)
	case []uint32:
		return toF64(d)
	case []uint64:
		return toF64(d)
	}
	return nil
}

func toF64[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32](d []T) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

func compareOutput(t *testing.T, name string, got tensor.Tensor, raw json.RawMessage, atol float64) {
	t.Helper()
	if got.DType == tensor.MapSequence {
		var want []map[string]float64
		json.Unmarshal(raw, &want)
		rows := got.Data.([]map[string]float64)
		if len(rows) != len(want) {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), len(want))
		}
		for i := range want {
			for k, w := range want[i] {
				if g, ok := rows[i][k]; !ok || math.Abs(g-w) > atol {
					t.Errorf("%s[%d][%q] = %v, want %v", name, i, k, g, w)
				}
			}
		}
		return
	}
	shape, leaves := flatten(raw)
	if fmt.Sprint(shape) != fmt.Sprint(got.Shape) && !(len(shape) == 0 && len(got.Shape) == 0) {
		t.Errorf("%s: shape %v, want %v", name, got.Shape, shape)
		return
	}
	if s, ok := got.Data.([]string); ok {
		for i, l := range leaves {
			if s[i] != l.(string) {
				t.Errorf("%s[%d] = %q, want %q", name, i, s[i], l)
			}
		}
		return
	}
	g := asFloats(got.Data)
	for i, l := range leaves {
		var w float64
		switch x := l.(type) {
		case bool:
			if x {
				w = 1
			}
		case json.Number:
			w, _ = x.Float64()
		}
		if got.DType == tensor.Float32 { // the export wrote float32 values as decimals
			w = float64(float32(w))
		}
		if math.Abs(g[i]-w) > atol*math.Max(1, math.Abs(w)) {
			t.Errorf("%s[%d] = %v, want %v", name, i, g[i], w)
		}
	}
}

// TestInferMatchesExport runs every shipped and test model on the inputs
// stored beside it and compares with the outputs numpy computed at export.
// It covers every input dtype, float16/bfloat16 and rank-0 outputs (which
// onnxruntime_go cannot allocate itself), rank-0 inputs, string tensors and
// ZipMap sequence-of-map outputs.
func TestInferMatchesExport(t *testing.T) {
	for _, c := range []struct{ model, expected string }{
		{"testdata/dtypes.onnx", "testdata/dtypes.expected.json"},
		{"testdata/half.onnx", "testdata/half.expected.json"},
		{"testdata/scalar.onnx", "testdata/scalar.expected.json"},
		{"testdata/zipmap.onnx", "testdata/zipmap.expected.json"},
		{"testdata/strings.onnx", "testdata/strings.expected.json"},
		{"testdata/slow.onnx", "testdata/slow.expected.json"},
		{"testdata/reshape.onnx", "testdata/reshape.expected.json"},
		{"testdata/bytes.onnx", "testdata/bytes.expected.json"},
		{"testdata/lookup.onnx", "testdata/lookup.expected.json"},
		{"../models/iris/1/model.onnx", "../models/iris/1/expected.json"},
		{"../models/digits/model.onnx", "../models/digits/expected.json"},
		{"../models/tabular/model.onnx", "../models/tabular/expected.json"},
	} {
		t.Run(filepath.Base(filepath.Dir(c.model))+"/"+filepath.Base(c.model), func(t *testing.T) {
			m, err := LoadModel("test", "1", c.model, nil, LoadOptions{Limiter: NewLimiter(2)})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			exp := readExpected(t, c.expected)
			for ci, cs := range exp.Cases {
				ins := make([]tensor.Tensor, len(m.Signature.Inputs))
				for i, spec := range m.Signature.Inputs {
					ins[i] = testTensor(t, spec.DType, cs.Inputs[spec.Name])
				}
				outs, err := m.Infer(context.Background(), ins)
				if err != nil {
					t.Fatalf("case %d: %v", ci, err)
				}
				for i, spec := range m.Signature.Outputs {
					want, ok := cs.Outputs[spec.Name]
					if !ok {
						t.Fatalf("%s has no expected value for output %s", c.expected, spec.Name)
					}
					compareOutput(t, fmt.Sprintf("case %d %s", ci, spec.Name), outs[i], want, exp.Atol)
				}
			}
		})
	}
}

// TestOutputPlans pins which outputs are preallocated: the rank-0 and
// float16 outputs must be (the wrapper cannot allocate them), batch-shaped
// ones should be, and sequence outputs cannot be.
func TestOutputPlans(t *testing.T) {
	for _, c := range []struct {
		model string
		want  map[string]planMode
	}{
		{"testdata/half.onnx", map[string]planMode{"y16": planBatch, "ybf16": planBatch, "total": planFixed}},
		{"testdata/zipmap.onnx", map[string]planMode{"probabilities": planBatch, "output_probability": planDynamic}},
		{"../models/iris/1/model.onnx", map[string]planMode{"label": planBatch, "probabilities": planBatch}},
	} {
		m, err := LoadModel("test", "1", c.model, nil, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, spec := range m.Signature.Outputs {
			if want, ok := c.want[spec.Name]; ok && m.outputs[i].mode != want {
				t.Errorf("%s %s: plan %v, want %v", c.model, spec.Name, m.outputs[i].mode, want)
			}
		}
		m.Close()
	}
}

// TestPlanBatches pins that a model without a batch input is proven with
// one warm-up run: a second at "batch 2" would be the same inputs again.
func TestPlanBatches(t *testing.T) {
	for _, c := range []struct {
		name   string
		inputs [][]int64
		want   []int
	}{
		{"batch input", [][]int64{{-1, 4}}, []int{1, 2}},
		{"batch input beside a rank-0 one", [][]int64{{-1, 2}, {}}, []int{1, 2}},
		{"fixed image", [][]int64{{1, 3, 1024, 1024}}, []int{1}},
		{"dynamic but not dim 0", [][]int64{{1, -1}}, []int{1}},
		{"rank-0 only", [][]int64{{}}, []int{1}},
	} {
		m := &Model{batchInput: -1, scores: -1, Config: &Config{}}
		for i, shape := range c.inputs {
			m.Signature.Inputs = append(m.Signature.Inputs, tensor.TensorSpec{Name: fmt.Sprint("in", i), DType: tensor.Float32, Shape: shape})
		}
		if err := m.checkConfig(); err != nil {
			t.Fatal(err)
		}
		if got := m.planBatches(); !slices.Equal(got, c.want) {
			t.Errorf("%s: warm-up batches %v, want %v", c.name, got, c.want)
		}
	}
}
