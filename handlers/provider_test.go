package handlers_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
	v2 "github.com/onnxserve/onnxserve/handlers/v2"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestExecutionProviderReported pins, over real HTTP on this machine's
// CPU-only ONNX Runtime, what a model whose config.yaml asks for CUDA
// shows: it loads on CPU with a WARN naming CUDA, answers, and says cpu
// in /v1/models/{m}, in the v2 metadata's parameters, on
// onnxserve_model_info and in its load line; with
// execution_provider_strict it does not load, and /v1/models says why.
func TestExecutionProviderReported(t *testing.T) {
	dir := t.TempDir()
	iris, err := os.ReadFile(servertest.Path("models/iris/config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	servertest.CopyFile(t, servertest.Path("models/iris/1/model.onnx"), filepath.Join(dir, "iris", "1", "model.onnx"))
	servertest.WriteFile(t, filepath.Join(dir, "iris", "config.yaml"), string(iris)+"execution_provider: {name: cuda, device_id: 0}\n")
	servertest.CopyFile(t, servertest.Path("models/iris/1/model.onnx"), filepath.Join(dir, "gpuonly", "1", "model.onnx"))
	servertest.WriteFile(t, filepath.Join(dir, "gpuonly", "config.yaml"), "execution_provider: cuda\nexecution_provider_strict: true\n")

	var logs bytes.Buffer
	mt := metrics.New(metrics.Options{})
	repo, err := runtime.OpenRepository(dir, runtime.LoadOptions{Limiter: runtime.NewLimiter(0), Logger: servertest.JSONLogger(&logs), Observer: mt}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	srv := servertest.Serve(t, repo, servertest.Options{Metrics: mt})

	fallback := servertest.LogLines(t, &logs, "execution provider unavailable: falling back")
	if len(fallback) != 1 || fallback[0]["level"] != "WARN" || fallback[0]["model"] != "iris" || fallback[0]["wanted"] != "cuda" || fallback[0]["using"] != "cpu" || fallback[0]["reason"] == "" {
		t.Errorf("fallback log lines: %v", fallback)
	}
	loaded := servertest.LogLines(t, &logs, "model loaded")
	if len(loaded) != 1 || loaded[0]["model"] != "iris" || loaded[0]["execution_provider"] != "cpu" {
		t.Errorf("load log lines: %v", loaded)
	}

	if r := do(t, "POST", srv.URL+"/v1/models/iris/predict", `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`); r.Status != 200 || !strings.Contains(string(r.Body), `"label":"setosa"`) {
		t.Errorf("predict after the fallback: %d %s", r.Status, r.Body)
	}
	var info v1.ModelInfo
	if r := do(t, "GET", srv.URL+"/v1/models/iris", ""); r.Status != 200 || json.Unmarshal(r.Body, &info) != nil || info.ExecutionProvider != "cpu" {
		t.Errorf("/v1/models/iris: %d %s", r.Status, r.Body)
	}
	var md v2.ModelMetadata
	if r := do(t, "GET", srv.URL+"/v2/models/iris", ""); r.Status != 200 || json.Unmarshal(r.Body, &md) != nil || md.Parameters.ExecutionProvider != "cpu" {
		t.Errorf("/v2/models/iris: %d %s", r.Status, r.Body)
	}
	fams := scrape(t, srv.URL)
	if got := sample(fams, "onnxserve_model_info", map[string]string{"model": "iris", "version": "1", "execution_provider": "cpu"}); got != 1 {
		t.Errorf("onnxserve_model_info{iris,1,cpu} = %v, want 1", got)
	}
	if n := len(fams["onnxserve_model_info"].GetMetric()); n != 1 {
		t.Errorf("onnxserve_model_info has %d series, want 1 (the model that did not load has none)", n)
	}

	var list v1.ModelList
	json.Unmarshal(do(t, "GET", srv.URL+"/v1/models", "").Body, &list)
	for _, m := range list.Models {
		if m.Name == "gpuonly" && (m.State != "UNAVAILABLE" || !strings.Contains(m.Reason, "execution provider cuda cannot be used") || !strings.Contains(m.Reason, "execution_provider_strict") || strings.Contains(m.Reason, servertest.Root())) {
			t.Errorf("gpuonly: %+v", m)
		}
	}
}
