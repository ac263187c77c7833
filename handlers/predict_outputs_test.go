package handlers_test

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// TestPredictOutputs pins outputs on demand on /v1: "outputs" in the body,
// or the outputs query parameter (comma-separated or repeated), returns
// just those outputs in the order asked, with the values the export
// computed (expected.json); predictions come only with the labels'
// output; a name the model lacks, a repeated one, a malformed list, or
// both forms at once are a 422 naming the field or the output.
func TestPredictOutputs(t *testing.T) {
	srv := shippedServer(t)
	iris := loadExpected(t, "../models/iris/1/expected.json").Cases[0]
	tab := loadExpected(t, "../models/tabular/expected.json").Cases[1]
	irisBody := func(extra string) string {
		return `{"inputs": {"X": ` + string(iris.Inputs["X"]) + `}` + extra + `}`
	}
	tabBody := `{"inputs": {"numeric": ` + string(tab.Inputs["numeric"]) + `, "category": ` + string(tab.Inputs["category"]) + `}}`
	for _, c := range []struct {
		name, path, body string
		outputs          []string // in the answer's order
		predictions      bool
		err              string // a 422 whose body has this; "" for a 200
	}{
		{"body: the scores", "iris/predict", irisBody(`, "outputs": ["probabilities"]`), []string{"probabilities"}, true, ""},
		{"body: the label only", "iris/predict", irisBody(`, "outputs": ["label"]`), []string{"label"}, false, ""},
		{"body: named features too", "iris/predict", `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "outputs": ["label"]}`, []string{"label"}, false, ""},
		{"query: comma-separated, in the order asked", "iris/predict?outputs=probabilities,label", irisBody(""), []string{"probabilities", "label"}, true, ""},
		{"query: repeated", "tabular/predict?outputs=bucket&outputs=score", tabBody, []string{"bucket", "score"}, false, ""},
		{"none: every output", "tabular/predict", tabBody, []string{"score", "flag", "bucket"}, false, ""},
		{"unknown output", "iris/predict", irisBody(`, "outputs": ["logits"]`), nil, false, `unexpected inference output 'logits' for model 'iris'`},
		{"asked twice", "iris/predict?outputs=label,label", irisBody(""), nil, false, `output 'label' is requested twice`},
		{"not a list", "iris/predict", irisBody(`, "outputs": "label"`), nil, false, `"field":"outputs","message":"expected an array of output names, got a string"`},
		{"not a name", "iris/predict", irisBody(`, "outputs": [1]`), nil, false, `"field":"outputs[0]","message":"expected an output name, got a number"`},
		{"body and query", "iris/predict?outputs=label", irisBody(`, "outputs": ["label"]`), nil, false, `"field":"outputs","message":"given both in the body and in the query; send one"`},
	} {
		res := do(t, "POST", srv.URL+"/v1/models/"+c.path, c.body)
		if c.err != "" {
			if res.Status != 422 || !strings.Contains(string(res.Body), c.err) {
				t.Errorf("%s: %d %s, want 422 with %s", c.name, res.Status, res.Body, c.err)
			}
			continue
		}
		if res.Status != 200 {
			t.Errorf("%s: %d %s", c.name, res.Status, res.Body)
			continue
		}
		var got struct {
			Outputs     json.RawMessage `json:"outputs"`
			Predictions []any           `json:"predictions"`
		}
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		var outs map[string]any
		json.Unmarshal(got.Outputs, &outs)
		if len(outs) != len(c.outputs) {
			t.Errorf("%s: outputs %s, want %v", c.name, got.Outputs, c.outputs)
		}
		want := iris
		if strings.HasPrefix(c.path, "tabular") {
			want = tab
		}
		last := -1
		for _, name := range c.outputs {
			at := strings.Index(string(got.Outputs), `"`+name+`":`)
			if at < last {
				t.Errorf("%s: %s out of order in %s", c.name, name, got.Outputs)
			}
			last = at
			assertClose(t, c.name+": "+name, outs[name], want.Outputs[name], 1e-4)
		}
		if (got.Predictions != nil) != c.predictions {
			t.Errorf("%s: predictions %v", c.name, got.Predictions)
		}
	}
}

// TestPredictOutputsZipMap pins that /v1, which carries sequence-of-maps
// outputs, lets one be asked for by name, and answers it as numpy's
// values at export (runtime/testdata/zipmap.expected.json); the Open
// Inference Protocol still refuses it.
func TestPredictOutputsZipMap(t *testing.T) {
	dir := t.TempDir()
	servertest.CopyFile(t, servertest.Path("runtime/testdata/zipmap.onnx"), filepath.Join(dir, "zipmap", "model.onnx"))
	srv, _ := servertest.Start(t, dir, servertest.Options{})
	res := do(t, "POST", srv.URL+"/v1/models/zipmap/predict", `{"inputs": {"x": [[0.5, 1.0, 2.0]]}, "outputs": ["output_probability"]}`)
	var got struct {
		Outputs map[string][]map[string]float64 `json:"outputs"`
	}
	if err := json.Unmarshal(res.Body, &got); res.Status != 200 || err != nil || len(got.Outputs) != 1 {
		t.Fatalf("/v1 asking for the ZipMap: %d %s", res.Status, res.Body)
	}
	want := map[string]float64{"0": 0.14024437963962555, "1": 0.23122388124465942, "2": 0.6285316944122314}
	row := got.Outputs["output_probability"]
	if len(row) != 1 {
		t.Fatalf("output_probability %v, want one row", row)
	}
	for k, v := range want {
		if math.Abs(row[0][k]-v) > 1e-6 {
			t.Errorf("output_probability[%s] = %v, want %v", k, row[0][k], v)
		}
	}
	v2 := do(t, "POST", srv.URL+"/v2/models/zipmap/infer", `{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [0.5, 1, 2]}], "outputs": [{"name": "output_probability"}]}`)
	if v2.Status != 400 || !strings.Contains(string(v2.Body), "sequence of maps") {
		t.Errorf("/v2 asking for the ZipMap: %d %s, want 400", v2.Status, v2.Body)
	}
}
