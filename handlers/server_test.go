package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
	"github.com/onnxserve/onnxserve/runtime"
)

// These tests run the real server over real HTTP against the real ONNX
// Runtime and the shipped models, comparing with the outputs stored beside
// each model at export time (numpy/sklearn), never with this code's output.

func TestMain(m *testing.M) { servertest.Main(m) }

// shippedServer is one server over models/, shared by the tests that only read.
func shippedServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv, _ := servertest.Start(t, "../models", servertest.Options{})
	return srv
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("status %d, body is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return v
}

func do(t testing.TB, method, url, body string) response {
	t.Helper()
	return doWith(t, method, url, body, nil)
}

// doRequest sends req and reads the whole answer.
func doRequest(t testing.TB, req *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

type expectedCases struct {
	Cases []struct {
		Inputs  map[string]json.RawMessage `json:"inputs"`
		Outputs map[string]json.RawMessage `json:"outputs"`
	} `json:"cases"`
	Atol float64 `json:"atol"`
}

func loadExpected(t testing.TB, path string) expectedCases {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e expectedCases
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// assertClose compares a JSON value from a response with the expected one,
// number by number within atol (relative for large values).
func assertClose(t testing.TB, where string, got any, want json.RawMessage, atol float64) {
	t.Helper()
	var w any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if msg := closeEnough(got, w, atol, ""); msg != "" {
		t.Errorf("%s: %s", where, msg)
	}
}

func closeEnough(got, want any, atol float64, path string) string {
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		for i := range w {
			if m := closeEnough(g[i], w[i], atol, fmt.Sprintf("%s[%d]", path, i)); m != "" {
				return m
			}
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		for k := range w {
			if m := closeEnough(g[k], w[k], atol, path+"."+k); m != "" {
				return m
			}
		}
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > atol*math.Max(1, math.Abs(w)) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
	}
	return ""
}

// irisFeatures matches models/iris/config.yaml.
var irisFeatures = []string{"sepal_length", "sepal_width", "petal_length", "petal_width"}
var irisLabels = []string{"setosa", "versicolor", "virginica"}

func rowsOf(t testing.TB, raw json.RawMessage) [][]float64 {
	var rows [][]float64
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func namedRow(row []float64) map[string]float64 {
	m := map[string]float64{}
	for i, f := range irisFeatures {
		m[f] = row[i]
	}
	return m
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestPredictForms sends every stored case of every shipped model in each
// request form the model accepts, to both the default and the versioned
// path, and compares every output with the export-time values.
func TestPredictForms(t *testing.T) {
	srv := shippedServer(t)
	type form struct {
		name string
		body func(inputs map[string]json.RawMessage) string
	}
	inputsForm := form{"inputs", func(in map[string]json.RawMessage) string { return mustJSON(map[string]any{"inputs": in}) }}
	instancesForm := func(input string) form {
		return form{"instances", func(in map[string]json.RawMessage) string {
			return `{"instances":` + string(in[input]) + `}`
		}}
	}
	namedMany := form{"named instances", func(in map[string]json.RawMessage) string {
		var objs []map[string]float64
		for _, r := range rowsOf(t, in["X"]) {
			objs = append(objs, namedRow(r))
		}
		return mustJSON(map[string]any{"instances": objs})
	}}
	for _, c := range []struct {
		model, version, expected string
		forms                    []form
	}{
		{"iris", "1", "../models/iris/1/expected.json", []form{inputsForm, instancesForm("X"), namedMany}},
		{"digits", "1", "../models/digits/expected.json", []form{inputsForm, instancesForm("pixels")}},
		{"tabular", "1", "../models/tabular/expected.json", []form{inputsForm}},
	} {
		exp := loadExpected(t, c.expected)
		for _, f := range c.forms {
			for _, path := range []string{"/v1/models/" + c.model + "/predict", "/v1/models/" + c.model + "/versions/" + c.version + "/predict"} {
				for ci, cs := range exp.Cases {
					where := fmt.Sprintf("%s %s case %d", path, f.name, ci)
					res := do(t, "POST", srv.URL+path, f.body(cs.Inputs))
					if res.Status != 200 {
						t.Fatalf("%s: status %d: %s", where, res.Status, res.Body)
					}
					body := res.json(t)
					if body["model"] != c.model || body["version"] != c.version {
						t.Errorf("%s: model/version %v/%v", where, body["model"], body["version"])
					}
					outs, _ := body["outputs"].(map[string]any)
					for name, want := range cs.Outputs {
						assertClose(t, where+" "+name, outs[name], want, exp.Atol)
					}
				}
			}
		}
	}
}

// TestPredictNamedFeatures pins the FastAPI-style single object for iris:
// the README's curl example, answered with the label by name.
func TestPredictNamedFeatures(t *testing.T) {
	srv := shippedServer(t)
	exp := loadExpected(t, "../models/iris/1/expected.json")
	for ci, cs := range exp.Cases {
		rows := rowsOf(t, cs.Inputs["X"])
		var labels []int
		json.Unmarshal(cs.Outputs["label"], &labels)
		var probs [][]float64
		json.Unmarshal(cs.Outputs["probabilities"], &probs)
		for ri, row := range rows {
			res := do(t, "POST", srv.URL+"/v1/models/iris/predict", mustJSON(namedRow(row)))
			if res.Status != 200 {
				t.Fatalf("case %d row %d: %d %s", ci, ri, res.Status, res.Body)
			}
			var body v1.PredictResponse
			if err := json.Unmarshal(res.Body, &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Predictions) != 1 {
				t.Fatalf("predictions: %s", res.Body)
			}
			p := body.Predictions[0]
			if want := irisLabels[labels[ri]]; p.Label != want {
				t.Errorf("case %d row %d: label %q, want %q", ci, ri, p.Label, want)
			}
			for li, l := range irisLabels {
				if math.Abs(p.Scores[l]-probs[ri][li]) > exp.Atol {
					t.Errorf("case %d row %d: score %s = %v, want %v", ci, ri, l, p.Scores[l], probs[ri][li])
				}
			}
		}
	}
	res := do(t, "POST", srv.URL+"/v1/models/iris/predict",
		`{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`)
	if res.Status != 200 || !bytes.Contains(res.Body, []byte(`"label":"setosa"`)) {
		t.Fatalf("README example: %d %s", res.Status, res.Body)
	}
}

// TestModelEndpoints pins the read-only endpoints: list, describe, health,
// readiness and the redirect to the docs.
func TestModelEndpoints(t *testing.T) {
	srv := shippedServer(t)
	list := do(t, "GET", srv.URL+"/v1/models", "")
	var ml v1.ModelList
	if err := json.Unmarshal(list.Body, &ml); err != nil || list.Status != 200 {
		t.Fatalf("list: %d %s", list.Status, list.Body)
	}
	var names []string
	for _, m := range ml.Models {
		names = append(names, m.Name)
		if m.State != "READY" {
			t.Errorf("%s state %s", m.Name, m.State)
		}
	}
	if got := strings.Join(names, ","); got != "digits,digitview,iris,tabular" {
		t.Errorf("models %s", got)
	}

	for _, path := range []string{"/v1/models/iris", "/v1/models/iris/versions/1"} {
		res := do(t, "GET", srv.URL+path, "")
		var info v1.ModelInfo
		if err := json.Unmarshal(res.Body, &info); err != nil || res.Status != 200 {
			t.Fatalf("%s: %d %s", path, res.Status, res.Body)
		}
		if info.Version != "1" || strings.Join(info.Versions, ",") != "1" ||
			strings.Join(info.Features, ",") != strings.Join(irisFeatures, ",") ||
			strings.Join(info.Labels, ",") != strings.Join(irisLabels, ",") ||
			info.MaxBatchSize != 64 || info.Description == "" || info.Metadata.Producer != "onnxserve-export" {
			t.Errorf("%s: %+v", path, info)
		}
		want := []v1.TensorInfo{{Name: "X", DType: "float32", Shape: []int64{-1, 4}}}
		if mustJSON(info.Inputs) != mustJSON(want) {
			t.Errorf("inputs %s", mustJSON(info.Inputs))
		}
		wantOut := []v1.TensorInfo{{Name: "label", DType: "int64", Shape: []int64{-1}}, {Name: "probabilities", DType: "float32", Shape: []int64{-1, 3}}}
		if mustJSON(info.Outputs) != mustJSON(wantOut) {
			t.Errorf("outputs %s", mustJSON(info.Outputs))
		}
	}
	tab := do(t, "GET", srv.URL+"/v1/models/tabular", "").json(t)
	if len(tab["inputs"].([]any)) != 2 || len(tab["outputs"].([]any)) != 3 {
		t.Errorf("tabular: %v", tab)
	}

	if res := do(t, "GET", srv.URL+"/healthz", ""); res.Status != 200 || res.json(t)["onnxruntime"] != runtime.Version() {
		t.Errorf("healthz: %d %s", res.Status, res.Body)
	}
	if res := do(t, "GET", srv.URL+"/readyz", ""); res.Status != 200 {
		t.Errorf("readyz: %d %s", res.Status, res.Body)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/swagger/index.html" {
		t.Errorf("/: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res := do(t, "GET", srv.URL+"/swagger/index.html", ""); res.Status != 200 || !bytes.Contains(res.Body, []byte("swagger")) {
		t.Errorf("swagger UI: %d", res.Status)
	}
}

// TestBadModels pins start-up failure handling: a broken model fails the
// whole open with the file and reason named, unless skipBad, in which case
// the others are served and the failure is listed and readyz says 503.
func TestBadModels(t *testing.T) {
	dir := t.TempDir()
	servertest.CopyFile(t, "../models/digits/model.onnx", filepath.Join(dir, "good", "model.onnx"))
	servertest.WriteFile(t, filepath.Join(dir, "broken", "model.onnx"), "this is not an onnx file")
	servertest.WriteFile(t, filepath.Join(dir, "badconfig", "model.onnx"), "")
	servertest.CopyFile(t, "../models/digits/model.onnx", filepath.Join(dir, "badconfig", "model.onnx"))
	servertest.WriteFile(t, filepath.Join(dir, "badconfig", "config.yaml"), "featurez: [a]\n")

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err := runtime.OpenRepository(dir, runtime.LoadOptions{Logger: log}, false)
	if err == nil || !(strings.Contains(err.Error(), "broken") || strings.Contains(err.Error(), "badconfig")) {
		t.Fatalf("open without skip: %v", err)
	}

	srv, _ := servertest.Start(t, dir, servertest.Options{SkipBad: true})
	var ml v1.ModelList
	json.Unmarshal(do(t, "GET", srv.URL+"/v1/models", "").Body, &ml)
	states := map[string]v1.ModelSummary{}
	for _, m := range ml.Models {
		states[m.Name] = m
	}
	if states["good"].State != "READY" || states["broken"].State != "UNAVAILABLE" || states["badconfig"].State != "UNAVAILABLE" {
		t.Fatalf("states: %+v", ml)
	}
	// The file is named relative to the repository: where the repository
	// lies on the server's disk is none of a client's business.
	if !strings.Contains(states["broken"].Reason, "broken/model.onnx") || strings.Contains(states["broken"].Reason, dir) {
		t.Errorf("broken reason does not name the file relative to the repository: %s", states["broken"].Reason)
	}
	for _, path := range []string{"/v1/models", "/v1/models/broken/predict"} {
		if res := do(t, "GET", srv.URL+path, ""); strings.Contains(string(res.Body), dir) {
			t.Errorf("%s shows the repository's path: %s", path, res.Body)
		}
	}
	if res := do(t, "POST", srv.URL+"/v2/repository/index", ""); strings.Contains(string(res.Body), dir) || !strings.Contains(string(res.Body), "broken/model.onnx") {
		t.Errorf("the index shows the repository's path, or not the file: %s", res.Body)
	}
	if !strings.Contains(states["badconfig"].Reason, "featurez") {
		t.Errorf("badconfig reason does not name the key: %s", states["badconfig"].Reason)
	}
	if res := do(t, "GET", srv.URL+"/readyz", ""); res.Status != 503 {
		t.Errorf("readyz with a failed model: %d", res.Status)
	}
	if res := do(t, "POST", srv.URL+"/v1/models/broken/predict", `{"inputs":{}}`); res.Status != 503 {
		t.Errorf("predict on a failed model: %d %s", res.Status, res.Body)
	}
}

// TestMetadataVersion pins metadata.version in GET /v1/models/{name}: a
// file without model_version (the shipped iris) shows none, not the
// INT64_MAX ONNX Runtime reports for it; one that sets it shows it.
func TestMetadataVersion(t *testing.T) {
	dir := t.TempDir()
	iris, err := os.ReadFile("../models/iris/1/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	servertest.WriteFile(t, filepath.Join(dir, "unset", "model.onnx"), string(iris))
	servertest.WriteFile(t, filepath.Join(dir, "seven", "model.onnx"), string(servertest.WithModelVersion(iris, 7)))
	srv, _ := servertest.Start(t, dir, servertest.Options{})
	for model, want := range map[string]string{"unset": `{"producer":"onnxserve-export","graph_name":"iris","description":`, "seven": `"version":7`} {
		var info struct {
			Metadata json.RawMessage `json:"metadata"`
		}
		res := do(t, "GET", srv.URL+"/v1/models/"+model, "")
		if err := json.Unmarshal(res.Body, &info); err != nil || res.Status != 200 {
			t.Fatalf("%s: %d %s", model, res.Status, res.Body)
		}
		md := string(info.Metadata)
		if !strings.Contains(md, want) || (model == "unset" && strings.Contains(md, `"version"`)) {
			t.Errorf("%s: metadata %s", model, md)
		}
	}
}
