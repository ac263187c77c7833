package handlers_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
)

// TestConcurrentMixedRequests pins that shared sessions give every caller
// its own answer: 8 goroutines × 200 requests mixing models, forms and
// versions, each checked against the export-time outputs.
func TestConcurrentMixedRequests(t *testing.T) {
	srv, _ := servertest.Start(t, testRepoWithDigits(t), servertest.Options{SkipBad: false})
	type call struct {
		path, body string
		outputs    map[string]json.RawMessage
		atol       float64
	}
	var calls []call
	for _, m := range []struct{ model, expected, form string }{
		{"iris", "../models/iris/1/expected.json", "instances:X"},
		{"iris/versions/1", "../models/iris/1/expected.json", "inputs"},
		{"digits", "../models/digits/expected.json", "instances:pixels"},
		{"tabular", "../models/tabular/expected.json", "inputs"},
	} {
		exp := loadExpected(t, m.expected)
		for _, cs := range exp.Cases {
			body := mustJSON(map[string]any{"inputs": cs.Inputs})
			if m.form != "inputs" {
				body = `{"instances":` + string(cs.Inputs[m.form[len("instances:"):]]) + `}`
			}
			calls = append(calls, call{"/v1/models/" + m.model + "/predict", body, cs.Outputs, exp.Atol})
		}
	}
	const workers, perWorker = 8, 200
	var wg sync.WaitGroup
	errs := make(chan string, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				c := calls[(w*31+i*7)%len(calls)]
				res := do(t, "POST", srv.URL+c.path, c.body)
				if res.Status != 200 {
					errs <- fmt.Sprintf("%s: %d %s", c.path, res.Status, res.Body)
					continue
				}
				var body struct {
					Outputs map[string]any `json:"outputs"`
				}
				json.Unmarshal(res.Body, &body)
				for name, want := range c.outputs {
					var w any
					json.Unmarshal(want, &w)
					if msg := closeEnough(body.Outputs[name], w, c.atol, name); msg != "" {
						errs <- c.path + ": " + msg
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 5 {
			t.Error(e)
		}
	}
	if n > 0 {
		t.Fatalf("%d of %d requests wrong", n, workers*perWorker)
	}
}

func testRepoWithDigits(t testing.TB) string {
	dir := testRepo(t)
	servertest.CopyFile(t, "../models/digits/model.onnx", dir+"/digits/model.onnx")
	return dir
}

// TestVersions pins version addressing: the highest version is the
// default, every version answers on its own path, and an unknown one is 404.
func TestVersions(t *testing.T) {
	srv, _ := servertest.Start(t, testRepo(t), servertest.Options{SkipBad: false})
	var info v1.ModelInfo
	json.Unmarshal(do(t, "GET", srv.URL+"/v1/models/iris", "").Body, &info)
	if info.Version != "2" || fmt.Sprint(info.Versions) != "[1 2]" {
		t.Fatalf("default version %q of %v", info.Version, info.Versions)
	}
	for path, want := range map[string]string{
		"/v1/models/iris/predict":            "2",
		"/v1/models/iris/versions/1/predict": "1",
		"/v1/models/iris/versions/2/predict": "2",
	} {
		res := do(t, "POST", srv.URL+path, `{"instances": [`+irisRow+`]}`)
		if res.Status != 200 || res.json(t)["version"] != want {
			t.Errorf("%s: %d %s", path, res.Status, res.Body)
		}
	}
	if res := do(t, "GET", srv.URL+"/v1/models/iris/versions/3", ""); res.Status != 404 {
		t.Errorf("unknown version: %d", res.Status)
	}
}
