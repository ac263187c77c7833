package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
	v2 "github.com/onnxserve/onnxserve/handlers/v2"
	"github.com/onnxserve/onnxserve/runtime"
)

// irisInfer is one iris row whose label models/iris/1/expected.json gives
// as 0.
const irisInfer = `{"inputs":[{"name":"X","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}`

func index(t *testing.T, url, body string) []v2.IndexEntry {
	t.Helper()
	res := do(t, "POST", url+"/v2/repository/index", body)
	var idx []v2.IndexEntry
	if err := json.Unmarshal(res.Body, &idx); err != nil || res.Status != 200 {
		t.Fatalf("index: %d %s", res.Status, res.Body)
	}
	return idx
}

// TestV2ModelControlModes pins that load and unload answer 503 outside
// explicit mode, as Triton does, saying what the mode is (Triton's words
// for poll), without logging a client's request as a server error; and
// that the index works in every mode.
func TestV2ModelControlModes(t *testing.T) {
	none := `{"error":"explicit model load / unload is not allowed: the server runs with --model-control=none; start it with --model-control=explicit"}`
	for mode, want := range map[runtime.ModelControl]string{
		"":                  none,
		runtime.ControlNone: none,
		runtime.ControlPoll: `{"error":"explicit model load / unload is not allowed if polling is enabled"}`,
	} {
		var log bytes.Buffer
		srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: mode, SkipBad: true,
			Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelError}))})
		for _, op := range []string{"load", "unload"} {
			res := do(t, "POST", srv.URL+"/v2/repository/models/iris/"+op, "")
			if res.Status != 503 || string(res.Body) != want {
				t.Errorf("mode %q %s: %d %s", mode, op, res.Status, res.Body)
			}
		}
		// A refusal the configuration calls for is not the server failing.
		if strings.Contains(log.String(), "request failed") {
			t.Errorf("mode %q: refusals logged as errors: %s", mode, log.String())
		}
		if idx := index(t, srv.URL, ""); len(idx) != len(servertest.Models)+1 {
			t.Errorf("mode %q: index %+v", mode, idx)
		}
	}
}

// TestV2PollFollowsRepository pins poll mode end to end: a model copied
// into the repository starts answering, a replaced file is served after
// the next scan, and a removed directory answers 404.
func TestV2PollFollowsRepository(t *testing.T) {
	dir := t.TempDir()
	servertest.CopyFile(t, "../models/digits/model.onnx", filepath.Join(dir, "digits", "model.onnx"))
	srv, repo := servertest.Start(t, dir, servertest.Options{Control: runtime.ControlPoll, SkipBad: true})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go repo.Watch(ctx, 20*time.Millisecond)
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("poll mode: %s never happened", what)
			}
		}
	}
	status := func() int { return do(t, "POST", srv.URL+"/v2/models/iris/infer", irisInfer).Status }
	version := func() int64 {
		var info v1.ModelInfo
		json.Unmarshal(do(t, "GET", srv.URL+"/v1/models/iris", "").Body, &info)
		return info.Metadata.Version
	}

	iris, _ := os.ReadFile("../models/iris/1/model.onnx")
	os.Mkdir(filepath.Join(dir, "iris"), 0o755)
	replaceFile(t, filepath.Join(dir, "iris", "model.onnx"), iris)
	eventually("a new model loads", func() bool { return status() == 200 })
	replaceFile(t, filepath.Join(dir, "iris", "model.onnx"), servertest.WithModelVersion(iris, 42))
	eventually("a replaced file reloads", func() bool { return version() == 42 && status() == 200 })
	if err := os.RemoveAll(filepath.Join(dir, "iris")); err != nil {
		t.Fatal(err)
	}
	eventually("a removed model unloads", func() bool { return status() == 404 })
}

// TestV2RepositoryExplicit walks the model repository extension in
// explicit mode: the index lists models never loaded by name only, load
// serves them, a broken reload leaves the old version serving with the
// reason in the index, unload answers 404 and lists the model as
// unloaded, and the API docs follow every change.
func TestV2RepositoryExplicit(t *testing.T) {
	dir := servertest.TestRepo(t)
	srv, _ := servertest.Start(t, dir, servertest.Options{Control: runtime.ControlExplicit, Load: []string{"digits"}})
	irisURL := srv.URL + "/v2/models/iris/infer"
	// A model is in the docs when the UI's selector lists its spec and
	// that spec, served, has its path.
	docHas := func(path string) bool {
		listed := strings.Contains(string(do(t, "GET", srv.URL+"/swagger/swagger-initializer.js", "").Body), `"url":"models/iris/doc.json"`)
		spec := do(t, "GET", srv.URL+"/swagger/models/iris/doc.json", "")
		served := spec.Status == 200 && strings.Contains(string(spec.Body), `"`+path+`"`)
		if listed != served {
			t.Errorf("the selector lists iris: %v, its spec is served: %v", listed, served)
		}
		return listed && served
	}

	idx := index(t, srv.URL, "")
	if len(idx) != len(servertest.Models)+1 || idx[0] != (v2.IndexEntry{Name: "digits", Version: "1", State: "READY"}) || idx[4] != (v2.IndexEntry{Name: "iris"}) {
		t.Fatalf("index before loading, in name order: %+v", idx)
	}
	if res := do(t, "POST", irisURL, irisInfer); res.Status != 404 {
		t.Fatalf("infer before load: %d %s", res.Status, res.Body)
	}
	if docHas("/v1/models/iris/predict") {
		t.Error("the docs list a model that is not loaded")
	}

	if res := do(t, "POST", srv.URL+"/v2/repository/models/iris/load", ""); res.Status != 200 || len(res.Body) != 0 {
		t.Fatalf("load: %d %s", res.Status, res.Body)
	}
	if res := do(t, "POST", irisURL, irisInfer); res.Status != 200 || !strings.Contains(string(res.Body), `"name":"label","datatype":"INT64","shape":[1],"data":[0]`) {
		t.Fatalf("infer after load: %d %s", res.Status, res.Body)
	}
	if !docHas("/v1/models/iris/predict") {
		t.Error("the docs do not list a model after its load")
	}
	if ready := index(t, srv.URL, `{"ready": true}`); len(ready) != 2 {
		t.Errorf("index of ready models: %+v", ready)
	}

	// A broken replacement: 400 with the reason, the old version serves.
	good, _ := os.ReadFile(filepath.Join(dir, "iris", "1", "model.onnx"))
	servertest.WriteFile(t, filepath.Join(dir, "iris", "1", "model.onnx"), "broken")
	res := do(t, "POST", srv.URL+"/v2/repository/models/iris/load", "")
	if res.Status != 400 || !strings.Contains(string(res.Body), "load failed for model 'iris'") ||
		!strings.Contains(string(res.Body), "iris/1/model.onnx") || strings.Contains(string(res.Body), dir) {
		t.Fatalf("broken reload: %d %s, want the reason with the file relative to the repository", res.Status, res.Body)
	}
	if res := do(t, "POST", irisURL, irisInfer); res.Status != 200 {
		t.Fatalf("the old version stopped serving after a failed reload: %d %s", res.Status, res.Body)
	}
	for _, e := range index(t, srv.URL, "") {
		if e.Name == "iris" && (e.State != "READY" || !strings.Contains(e.Reason, "last load failed")) {
			t.Errorf("index after a failed reload: %+v", e)
		}
	}
	servertest.WriteFile(t, filepath.Join(dir, "iris", "1", "model.onnx"), string(good))

	if res := do(t, "POST", srv.URL+"/v2/repository/models/iris/unload", `{"parameters":{"unload_dependents":false}}`); res.Status != 200 {
		t.Fatalf("unload: %d %s", res.Status, res.Body)
	}
	if res := do(t, "POST", irisURL, irisInfer); res.Status != 404 {
		t.Errorf("infer after unload: %d %s", res.Status, res.Body)
	}
	if res := do(t, "GET", srv.URL+"/v2/models/iris/ready", ""); res.Status != 404 {
		t.Errorf("ready after unload: %d", res.Status)
	}
	for _, e := range index(t, srv.URL, "") {
		if e.Name == "iris" && e != (v2.IndexEntry{Name: "iris", State: "UNAVAILABLE", Reason: "unloaded"}) {
			t.Errorf("index after unload: %+v", e)
		}
	}
	if docHas("/v1/models/iris/predict") {
		t.Error("the docs still list an unloaded model")
	}
	if res := do(t, "GET", srv.URL+"/v2/health/ready", ""); res.Status != 200 {
		t.Errorf("an unloaded model made the server not ready: %d", res.Status)
	}

	cases := []struct {
		what, path, body string
		status           int
		msg              string
	}{
		{"load of a name not in the repository", "/v2/repository/models/nope/load", "", 400, `load failed for model 'nope': no model "nope"`},
		{"load of a path", "/v2/repository/models/../load", "", 400, `invalid model name ".."`},
		{"load with a config override", "/v2/repository/models/iris/load", `{"parameters":{"config":"{}"}}`, 400, "load parameter 'config' is not supported"},
		{"load with a file override", "/v2/repository/models/iris/load", `{"parameters":{"file:1/model.onnx":"AAAA"}}`, 400, "load parameter 'file:1/model.onnx' is not supported"},
		{"load with a body that is not JSON", "/v2/repository/models/iris/load", `{"parameters":`, 400, "malformed JSON"},
		{"unload of an unknown name", "/v2/repository/models/nope/unload", "", 404, `model "nope" not found`},
		{"index with a ready that is not a boolean", "/v2/repository/index", `{"ready":"yes"}`, 400, "Invalid value for 'ready': expected a boolean"},
		{"index with a body that is not an object", "/v2/repository/index", `[]`, 400, "malformed JSON"},
	}
	for _, c := range cases {
		res := do(t, "POST", srv.URL+c.path, c.body)
		var e v2.Error
		json.Unmarshal(res.Body, &e)
		if res.Status != c.status || !strings.Contains(e.Error, c.msg) {
			t.Errorf("%s: %d %s, want %d %q", c.what, res.Status, res.Body, c.status, c.msg)
		}
	}

	// Loading again after an unload serves the model again.
	if res := do(t, "POST", srv.URL+"/v2/repository/models/iris/load", "{}"); res.Status != 200 {
		t.Fatalf("reload after unload: %d %s", res.Status, res.Body)
	}
	if res := do(t, "POST", irisURL, irisInfer); res.Status != 200 {
		t.Errorf("infer after the second load: %d %s", res.Status, res.Body)
	}
}
