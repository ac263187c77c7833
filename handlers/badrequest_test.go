package handlers_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
)

// testRepo builds a repository with a versioned iris (versions 1 and 2),
// tabular (two inputs of different dtypes) and the every-dtype and rank-0
// test models.
func testRepo(t testing.TB) string {
	dir := t.TempDir()
	for _, v := range []string{"1", "2"} {
		servertest.CopyFile(t, "../models/iris/1/model.onnx", filepath.Join(dir, "iris", v, "model.onnx"))
	}
	servertest.CopyFile(t, "../models/iris/config.yaml", filepath.Join(dir, "iris", "config.yaml"))
	servertest.CopyFile(t, "../models/tabular/model.onnx", filepath.Join(dir, "tabular", "model.onnx"))
	for _, m := range []string{"dtypes", "scalar"} {
		servertest.CopyFile(t, "../runtime/testdata/"+m+".onnx", filepath.Join(dir, m, "model.onnx"))
	}
	return dir
}

const irisRow = `[5.1, 3.5, 1.4, 0.2]`

func dtypesBody(override string, value string) string {
	in := map[string]string{
		"f32": "[[1, 2]]", "f64": "[[1, 2]]", "i8": "[[1, 2]]", "i16": "[[1, 2]]", "i32": "[[1, 2]]", "i64": "[[1, 2]]",
		"u8": "[[1, 2]]", "u16": "[[1, 2]]", "u32": "[[1, 2]]", "u64": "[[1, 2]]", "b": "[[true, false]]", "s": `[["a", "b"]]`,
	}
	in[override] = value
	var parts []string
	for k, v := range in {
		parts = append(parts, `"`+k+`": `+v)
	}
	return `{"inputs": {` + strings.Join(parts, ", ") + `}}`
}

// TestBadRequests pins, for each way a request can be wrong, the status and
// the field the error names, and that every error has the JSON error shape.
func TestBadRequests(t *testing.T) {
	srv, _ := servertest.Start(t, testRepo(t), servertest.Options{SkipBad: false})
	many := make([]string, 65)
	for i := range many {
		many[i] = irisRow
	}
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		field                    string // "" when the error names no field
	}{
		{"empty body", "POST", "/v1/models/iris/predict", "", 400, ""},
		{"whitespace body", "POST", "/v1/models/iris/predict", " \n\t", 400, ""},
		{"truncated JSON", "POST", "/v1/models/iris/predict", `{"sepal_length": 5.1,`, 400, ""},
		{"trailing garbage", "POST", "/v1/models/iris/predict", `{"instances": [` + irisRow + `]} x`, 400, ""},
		{"invalid literal", "POST", "/v1/models/iris/predict", `{"sepal_length": tru}`, 400, ""},
		{"top level is an array", "POST", "/v1/models/iris/predict", `[` + irisRow + `]`, 422, "body"},
		{"unknown model", "POST", "/v1/models/nope/predict", `{}`, 404, ""},
		{"unknown version", "POST", "/v1/models/iris/versions/9/predict", `{"instances": [` + irisRow + `]}`, 404, ""},
		{"unknown model info", "GET", "/v1/models/nope", "", 404, ""},
		{"wrong method on predict", "GET", "/v1/models/iris/predict", "", 405, ""},
		{"wrong method on list", "DELETE", "/v1/models", "", 405, ""},
		{"body over the limit", "POST", "/v1/models/iris/predict", `{"instances": [` + strings.Repeat(irisRow+",", 1<<16) + irisRow + `]}`, 413, ""},
		{"feature of the wrong JSON type", "POST", "/v1/models/iris/predict", `{"sepal_length": "5.1", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`, 422, "sepal_length"},
		{"missing feature", "POST", "/v1/models/iris/predict", `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}`, 422, "petal_width"},
		{"unknown feature", "POST", "/v1/models/iris/predict", `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "color": 1}`, 422, "color"},
		{"null feature", "POST", "/v1/models/iris/predict", `{"sepal_length": null, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`, 422, "sepal_length"},
		{"duplicate feature", "POST", "/v1/models/iris/predict", `{"sepal_length": 5.1, "sepal_length": 5.2, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`, 422, "sepal_length"},
		{"missing feature in an instance", "POST", "/v1/models/iris/predict", `{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}, {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}]}`, 422, "instances[1].petal_width"},
		{"ragged rows", "POST", "/v1/models/iris/predict", `{"instances": [[1, 2, 3, 4], [1, 2, 3]]}`, 422, "instances[1]"},
		{"row with a wrong fixed dimension", "POST", "/v1/models/iris/predict", `{"instances": [[1, 2, 3, 4, 5]]}`, 422, "instances[0]"},
		{"tensor of the wrong rank", "POST", "/v1/models/iris/predict", `{"inputs": {"X": [[[1, 2, 3, 4]]]}}`, 422, "inputs.X"},
		{"tensor with a wrong fixed dimension", "POST", "/v1/models/iris/predict", `{"inputs": {"X": [[1, 2, 3]]}}`, 422, "inputs.X"},
		{"missing input", "POST", "/v1/models/iris/predict", `{"inputs": {}}`, 422, "inputs.X"},
		{"unknown input", "POST", "/v1/models/iris/predict", `{"inputs": {"X": [` + irisRow + `], "Y": [1]}}`, 422, "inputs.Y"},
		{"inputs is not an object", "POST", "/v1/models/iris/predict", `{"inputs": [` + irisRow + `]}`, 422, "inputs"},
		{"batch over max_batch_size", "POST", "/v1/models/iris/predict", `{"instances": [` + strings.Join(many, ",") + `]}`, 422, "instances"},
		{"empty batch", "POST", "/v1/models/iris/predict", `{"instances": []}`, 422, "instances"},
		{"string inside a number row", "POST", "/v1/models/iris/predict", `{"instances": [[1, 2, "3", 4]]}`, 422, "instances[0][2]"},
		{"fraction for an int64 input", "POST", "/v1/models/tabular/predict", `{"inputs": {"numeric": [[1, 2, 3]], "category": [1.5]}}`, 422, "inputs.category[0]"},
		{"instances on a multi-input model", "POST", "/v1/models/tabular/predict", `{"instances": [[1, 2, 3]]}`, 422, "instances"},
		{"top-level field on a model without features", "POST", "/v1/models/tabular/predict", `{"numeric": [[1, 2, 3]]}`, 422, "numeric"},
		{"uint8 out of range", "POST", "/v1/models/dtypes/predict", dtypesBody("u8", "[[1, 300]]"), 422, "inputs.u8[0][1]"},
		{"int8 below range", "POST", "/v1/models/dtypes/predict", dtypesBody("i8", "[[-129, 0]]"), 422, "inputs.i8[0][0]"},
		{"negative unsigned", "POST", "/v1/models/dtypes/predict", dtypesBody("u64", "[[-1, 0]]"), 422, "inputs.u64[0][0]"},
		{"int32 above range", "POST", "/v1/models/dtypes/predict", dtypesBody("i32", "[[2147483648, 0]]"), 422, "inputs.i32[0][0]"},
		{"float32 overflow", "POST", "/v1/models/dtypes/predict", dtypesBody("f32", "[[1e39, 0]]"), 422, "inputs.f32[0][0]"},
		{"number for a bool", "POST", "/v1/models/dtypes/predict", dtypesBody("b", "[[1, 0]]"), 422, "inputs.b[0][0]"},
		{"number for a string", "POST", "/v1/models/dtypes/predict", dtypesBody("s", `[["a", 1]]`), 422, "inputs.s[0][1]"},
		{"inputs disagree on the batch", "POST", "/v1/models/tabular/predict", `{"inputs": {"numeric": [[1, 2, 3]], "category": [1, 2]}}`, 422, "inputs.category"},
		{"array for a rank-0 input", "POST", "/v1/models/scalar/predict", `{"inputs": {"x": [[1, 2]], "scale": [2]}}`, 422, "inputs.scale"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := do(t, c.method, srv.URL+c.path, c.body)
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %s", res.Status, c.status, res.Body)
			}
			var e v1.Error
			if err := json.Unmarshal(res.Body, &e); err != nil || e.Message == "" {
				t.Fatalf("not the JSON error shape: %s", res.Body)
			}
			if c.field == "" {
				return
			}
			var fields []string
			for _, d := range e.Details {
				fields = append(fields, d.Field)
				if d.Field == c.field && d.Message != "" {
					return
				}
			}
			t.Fatalf("no detail names %q (got %q): %s", c.field, fields, res.Body)
		})
	}
}
