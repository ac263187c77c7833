package handlers_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	v2 "github.com/onnxserve/onnxserve/handlers/v2"
	"github.com/onnxserve/onnxserve/runtime"
)

// Conformance of the v2 API over real HTTP with real ORT sessions: every
// model, every datatype, in JSON (nested and flat) and binary form, each
// output compared with the numpy/sklearn values stored at export time.

// modelDatatypes reads a model's v2 metadata: input name → datatype.
func modelDatatypes(t *testing.T, url, model string) (map[string]string, v2.ModelMetadata) {
	t.Helper()
	res := do(t, "GET", url+"/v2/models/"+model, "")
	var md v2.ModelMetadata
	if err := json.Unmarshal(res.Body, &md); err != nil || res.Status != 200 {
		t.Fatalf("metadata of %s: %d %s", model, res.Status, res.Body)
	}
	types := map[string]string{}
	for _, in := range md.Inputs {
		types[in.Name] = in.Datatype
	}
	return types, md
}

// v2Form is one way of sending a request and asking for outputs.
type v2Form struct {
	name     string
	nested   bool // JSON data nested as the shape, else flat
	binIn    bool // inputs as binary tensor data
	binOut   bool // outputs as binary, per output
	binAll   bool // outputs as binary, by the request's binary_data_output
	explicit bool // list the outputs in the request
}

var v2Forms = []v2Form{
	{name: "json nested", nested: true},
	{name: "json flat, outputs listed", explicit: true},
	{name: "json in, binary out per output", binOut: true, explicit: true},
	{name: "binary in, json out", binIn: true},
	{name: "binary in and out (binary_data_output)", binIn: true, binAll: true},
}

// buildV2 writes an inference request for a case's inputs in form f.
func buildV2(t *testing.T, types map[string]string, inputs map[string]json.RawMessage, outputs []string, f v2Form) (header, bin []byte) {
	t.Helper()
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	req := map[string]any{"id": "case"}
	var ins []any
	for _, n := range names {
		shape, leaves := flatJSON(t, inputs[n])
		if len(shape) == 0 && len(leaves) == 1 {
			shape = []int64{} // a scalar
		}
		in := map[string]any{"name": n, "shape": shape, "datatype": types[n]}
		switch {
		case f.binIn:
			raw := encodeLeaves(t, types[n], leaves)
			in["parameters"] = map[string]any{"binary_data_size": len(raw)}
			bin = append(bin, raw...)
		case f.nested && len(shape) > 0:
			in["data"] = inputs[n]
		default:
			in["data"] = leaves
		}
		ins = append(ins, in)
	}
	req["inputs"] = ins
	if f.explicit {
		var outs []any
		for _, o := range outputs {
			outs = append(outs, map[string]any{"name": o, "parameters": map[string]any{"binary_data": f.binOut}})
		}
		req["outputs"] = outs
	}
	if f.binAll {
		req["parameters"] = map[string]any{"binary_data_output": true}
	}
	return []byte(mustJSON(req)), bin
}

// TestV2InferConformance sends every stored case of every model in every
// form, to the default and the versioned path, and compares each output's
// datatype, shape and values with the export-time expectations.
func TestV2InferConformance(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlNone, SkipBad: true})
	for _, model := range slices.Sorted(maps.Keys(servertest.Models)) {
		exp := loadExpected(t, servertest.Path(servertest.Models[model]))
		types, md := modelDatatypes(t, srv.URL, model)
		outTypes := map[string]string{}
		for _, o := range md.Outputs {
			outTypes[o.Name] = o.Datatype
		}
		for _, f := range v2Forms {
			for ci, cs := range exp.Cases {
				var outputs []string
				for o := range cs.Outputs {
					if outTypes[o] != "" { // ZipMap outputs have no v2 form
						outputs = append(outputs, o)
					}
				}
				sort.Strings(outputs)
				if len(outputs) == 0 {
					t.Fatalf("%s: no expected output has a v2 datatype", model)
				}
				header, bin := buildV2(t, types, cs.Inputs, outputs, f)
				path := "/v2/models/" + model + "/infer"
				if ci%2 == 1 {
					path = "/v2/models/" + model + "/versions/" + md.Versions[len(md.Versions)-1] + "/infer"
				}
				where := fmt.Sprintf("%s %s case %d", path, f.name, ci)
				res := postV2(t, srv.URL+path, header, bin, f.binIn)
				if res.Status != 200 {
					t.Fatalf("%s: %d %s", where, res.Status, res.Error)
				}
				if res.ID != "case" || res.Model != model || res.Version != md.Versions[len(md.Versions)-1] {
					t.Errorf("%s: id %q model %q version %q", where, res.ID, res.Model, res.Version)
				}
				if len(res.Outputs) != len(outputs) {
					t.Errorf("%s: outputs %v, want %v", where, res.Order, outputs)
				}
				for _, o := range outputs {
					got, ok := res.Outputs[o]
					if !ok {
						t.Fatalf("%s: no output %s", where, o)
					}
					shape, leaves := flatJSON(t, cs.Outputs[o])
					if got.Datatype != outTypes[o] || !slices.Equal(got.Shape, shape) || got.Binary != (f.binOut || f.binAll) {
						t.Errorf("%s %s: datatype %s shape %v binary %v, want %s %v", where, o, got.Datatype, got.Shape, got.Binary, outTypes[o], shape)
					}
					assertClose(t, where+" "+o, asStored(got.Datatype, got.Data), []byte(mustJSON(asStored(got.Datatype, leaves))), exp.Atol)
				}
			}
		}
	}
}

// asStored rounds numbers to the float32 that FP32, FP16 and BF16 values
// travel as in JSON, whose shortest text need not read back as the
// float64 that expected.json holds.
func asStored(datatype string, vals []any) []any {
	out := slices.Clone(vals)
	for i, v := range out {
		if n, ok := v.(json.Number); ok {
			v, _ = n.Float64()
			out[i] = v
		}
		if f, ok := v.(float64); ok && (datatype == "FP32" || datatype == "FP16" || datatype == "BF16") {
			out[i] = float64(float32(f))
		}
	}
	return out
}

// TestV2HalfPrecisionInputs pins FP16 and BF16 inputs, which no shipped
// model has: an identity model must return exactly what it was sent, in
// JSON and binary, including float16's largest and subnormal values.
func TestV2HalfPrecisionInputs(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlNone, SkipBad: true})
	values := json.RawMessage(`[1.5, -2, 0.25, 65504, 6.103515625e-05, 5.960464477539063e-08, -0]`)
	bvalues := json.RawMessage(`[1.5, -2, 0.25, 3.3895313892515355e+38, 1e-30, -0.0078125, 0]`)
	inputs := map[string]json.RawMessage{"x16": values, "xb": bvalues}
	types := map[string]string{"x16": "FP16", "xb": "BF16"}
	for _, f := range v2Forms {
		header, bin := buildV2(t, types, inputs, []string{"y16", "yb"}, f)
		res := postV2(t, srv.URL+"/v2/models/halfid/infer", header, bin, f.binIn)
		if res.Status != 200 {
			t.Fatalf("%s: %d %s", f.name, res.Status, res.Error)
		}
		if o := res.Outputs["y16"]; o.Datatype != "FP16" {
			t.Errorf("%s: y16 is %s", f.name, o.Datatype)
		}
		_, want := flatJSON(t, values)
		assertClose(t, f.name+" y16", asStored("FP16", res.Outputs["y16"].Data), []byte(mustJSON(asStored("FP16", want))), 0)
		// bf16 keeps 8 bits of mantissa: 1e-30 comes back as the nearest bf16.
		assertClose(t, f.name+" yb", res.Outputs["yb"].Data, bvalues, 1e-2)
	}
}

// TestV2Classification pins the classification extension against the
// export-time probabilities: top-k per row, highest first, Triton's
// "value:index:label" text with six decimals, labels from config.yaml,
// in JSON and binary, shape [batch, k], k capped at the classes.
func TestV2Classification(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlNone, SkipBad: true})
	cases := []struct {
		model, output string
		k             int
		labels        []string
	}{
		{"iris", "probabilities", 2, irisLabels},
		{"digits", "probabilities", 3, []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}},
		{"iris", "probabilities", 10, irisLabels}, // k above the 3 classes
		{"tabular", "bucket", 1, nil},             // an INT64 output, no labels
		{"zipmap", "probabilities", 1, nil},       // no config.yaml: no labels
	}
	for _, c := range cases {
		exp := loadExpected(t, servertest.Path(servertest.Models[c.model]))
		types, _ := modelDatatypes(t, srv.URL, c.model)
		for ci, cs := range exp.Cases {
			for _, binary := range []bool{false, true} {
				where := fmt.Sprintf("%s %s top-%d case %d binary %v", c.model, c.output, c.k, ci, binary)
				header, bin := buildV2(t, types, cs.Inputs, nil, v2Forms[0])
				var req map[string]any
				if err := json.Unmarshal(header, &req); err != nil {
					t.Fatalf("%s: request header: %v", where, err)
				}
				req["outputs"] = []any{map[string]any{"name": c.output, "parameters": map[string]any{"classification": c.k, "binary_data": binary}}}
				res := postV2(t, srv.URL+"/v2/models/"+c.model+"/infer", []byte(mustJSON(req)), bin, false)
				if res.Status != 200 {
					t.Fatalf("%s: %d %s", where, res.Status, res.Error)
				}
				got := res.Outputs[c.output]
				shape, leaves := flatJSON(t, cs.Outputs[c.output])
				rows := int(shape[0])
				per := len(leaves) / rows
				k := min(c.k, per)
				if got.Datatype != "BYTES" || !slices.Equal(got.Shape, []int64{int64(rows), int64(k)}) || got.Binary != binary {
					t.Fatalf("%s: %s %v binary %v", where, got.Datatype, got.Shape, got.Binary)
				}
				for r := range rows {
					row := leaves[r*per : (r+1)*per]
					order := make([]int, per)
					for i := range order {
						order[i] = i
					}
					val := func(i int) float64 { f, _ := row[i].(json.Number).Float64(); return f }
					sort.SliceStable(order, func(a, b int) bool { return val(order[a]) > val(order[b]) })
					for j := range k {
						parts := strings.Split(got.Data[r*k+j].(string), ":")
						idx := order[j]
						score, _ := strconv.ParseFloat(parts[0], 64)
						if len(parts) < 2 || parts[1] != strconv.Itoa(idx) || math.Abs(score-val(idx)) > 1e-6+exp.Atol {
							t.Errorf("%s row %d #%d: %q, want %v at index %d", where, r, j, got.Data[r*k+j], val(idx), idx)
						}
						if dot := strings.IndexByte(parts[0], '.'); c.output == "probabilities" && len(parts[0])-dot != 7 {
							t.Errorf("%s: %q does not have std::to_string's six decimals", where, parts[0])
						}
						if (c.labels != nil) != (len(parts) == 3) || c.labels != nil && parts[2] != c.labels[idx] {
							t.Errorf("%s row %d #%d: %q, want label %v", where, r, j, got.Data[r*k+j], c.labels)
						}
					}
				}
			}
		}
	}
}
