package handlers_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// responseExamples reads the example of every response of path's POST in
// the spec at url, by status.
func responseExamples(t *testing.T, url, path string) map[string]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Examples map[string]json.RawMessage `json:"examples"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(do(t, "GET", url, "").Body, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for status, r := range doc.Paths[path]["post"].Responses {
		if ex, ok := r.Examples["application/json"]; ok {
			out[status] = compact(t, ex)
		}
	}
	return out
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return mustJSON(v)
}

// TestErrorExamples pins that the error examples in the API docs are what
// the server answers: every status the tests can provoke on a real server
// (the 400s, 404, 413, 422 and 503; not an ONNX Runtime failure or a
// deadline) is sent, on each model's own predict path and on the static
// /v1 and /v2 paths, and the answer must equal its status's example (for
// the 503, up to the load failure's reason). Every error status of a
// model's path has an example.
func TestErrorExamples(t *testing.T) {
	srv := shippedServer(t)
	big := strings.Repeat(" ", 32<<20+1)
	check := func(where string, examples map[string]string, status, url, body string, prefix bool) {
		t.Helper()
		res := do(t, "POST", url, body)
		got := compact(t, res.Body)
		want, ok := examples[status]
		switch {
		case !ok:
			t.Errorf("%s: no example for %s", where, status)
		case res.Status != atoi(status):
			t.Errorf("%s: provoked %d, want %s: %s", where, res.Status, status, res.Body)
		case prefix && !strings.HasPrefix(got, strings.SplitAfter(want, "not available: ")[0]):
			t.Errorf("%s %s: answered %s, example %s", where, status, got, want)
		case !prefix && got != want:
			t.Errorf("%s %s: answered %s, example %s", where, status, got, want)
		}
	}
	for _, c := range []struct{ model, bad422 string }{
		{"iris", `{"sepal_length": "wide", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`},
		{"digits", `{"inputs": {}}`},
		{"tabular", `{"inputs": {}}`},
	} {
		path := "/v1/models/" + c.model + "/predict"
		ex := responseExamples(t, srv.URL+"/swagger/models/"+c.model+"/doc.json", path)
		for _, status := range []string{"400", "404", "413", "422", "500", "503", "504"} {
			if ex[status] == "" {
				t.Errorf("%s: no example for %s", c.model, status)
			}
		}
		check(c.model, ex, "400", srv.URL+path, "{", false)
		check(c.model, ex, "413", srv.URL+path, big, false)
		check(c.model, ex, "422", srv.URL+path, c.bad422, false)
	}
	v1 := responseExamples(t, srv.URL+"/swagger/doc.json", "/v1/models/{name}/predict")
	v2 := responseExamples(t, srv.URL+"/swagger/doc.json", "/v2/models/{name}/infer")
	check("v1", v1, "400", srv.URL+"/v1/models/iris/predict", "{", false)
	check("v1", v1, "422", srv.URL+"/v1/models/iris/predict", `{"sepal_length": "x", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`, false)
	check("v2", v2, "400", srv.URL+"/v2/models/iris/infer", `{"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [5.1, 3.5, 1.4]}]}`, false)
	check("v2", v2, "413", srv.URL+"/v2/models/iris/infer", big, false)

	// No iris served: 404; an iris that does not load: 503.
	for _, c := range []struct {
		status string
		iris   string // the model file of iris; "" for none
	}{
		{"404", ""},
		{"503", "not an onnx file"},
	} {
		dir := t.TempDir()
		servertest.CopyFile(t, "../models/digits/model.onnx", filepath.Join(dir, "digits", "model.onnx"))
		if c.iris != "" {
			servertest.WriteFile(t, filepath.Join(dir, "iris", "model.onnx"), c.iris)
		}
		other, _ := servertest.Start(t, dir, servertest.Options{SkipBad: true})
		check("v1", v1, c.status, other.URL+"/v1/models/iris/predict", `{"inputs": {}}`, c.status == "503")
		check("v2", v2, c.status, other.URL+"/v2/models/iris/infer", `{"inputs": []}`, c.status == "503")
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
