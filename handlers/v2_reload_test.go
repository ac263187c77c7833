package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestV2HotReloadUnderLoad pins hot reload: while clients keep sending
// inference requests, the iris model file is replaced and reloaded 20
// times and the tabular model is unloaded. Not one request to a model that
// stays loaded may fail; requests to the unloaded model may only ever get
// 200 (sent before it was unloaded) or 404 (once it is being unloaded);
// every reload must actually serve the new file. The process's RSS is
// logged, not asserted: no bound both holds on every machine and catches
// a leak over 20 reloads of a small model.
func TestV2HotReloadUnderLoad(t *testing.T) {
	const reloads = 20
	dir := t.TempDir()
	servertest.CopyFile(t, "../models/iris/1/model.onnx", filepath.Join(dir, "iris", "model.onnx"))
	servertest.CopyFile(t, "../models/digits/model.onnx", filepath.Join(dir, "digits", "model.onnx"))
	servertest.CopyFile(t, "../models/tabular/model.onnx", filepath.Join(dir, "tabular", "model.onnx"))
	srv, _ := servertest.Start(t, dir, servertest.Options{Control: runtime.ControlExplicit, SkipBad: true})
	irisBytes, err := os.ReadFile(filepath.Join(dir, "iris", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}

	digits := loadExpected(t, "../models/digits/expected.json").Cases[0]
	requests := []struct {
		model, body, want string // want: a piece of the 200 response
		stays             bool
	}{
		{"iris", irisInfer, `"name":"label","datatype":"INT64","shape":[1],"data":[0]`, true},
		{"digits", `{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,64],"data":` + string(digits.Inputs["pixels"]) + `}],"outputs":[{"name":"label"}]}`,
			`"data":[` + strings.Trim(string(digits.Outputs["label"]), "[]") + `]`, true},
		{"tabular", `{"inputs":[{"name":"numeric","datatype":"FP32","shape":[1,3],"data":[45.0,0.35,4.0]},{"name":"category","datatype":"INT64","shape":[1],"data":[0]}]}`,
			`"name":"bucket","datatype":"INT64","shape":[1],"data":[2]`, false},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	var (
		stop      atomic.Bool
		unloading atomic.Bool // set before the unload request
		unloaded  atomic.Bool // set once it has returned
		started   atomic.Int64
		finished  atomic.Int64
		served    atomic.Int64
		mu        sync.Mutex
		failures  []string
		wg        sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for w := range 4 {
		wg.Go(func() {
			for i := w; !stop.Load(); i++ {
				r := requests[i%len(requests)]
				wasUnloaded := unloaded.Load()
				started.Add(1)
				res, err := client.Post(srv.URL+"/v2/models/"+r.model+"/infer", "application/json", strings.NewReader(r.body))
				var body []byte
				if err == nil {
					body, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				finished.Add(1)
				switch {
				case err != nil:
					fail("%s: %v", r.model, err)
				case res.StatusCode == 200 && bytes.Contains(body, []byte(r.want)):
					served.Add(1)
				case !r.stays && res.StatusCode == 404 && unloading.Load():
				case !r.stays && res.StatusCode == 200 && !wasUnloaded:
				default:
					fail("%s: %d %s (unloaded: %v)", r.model, res.StatusCode, body, unloaded.Load())
				}
			}
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	waitServed := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for start := served.Load(); served.Load() < start+n; {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%d requests served in 30s, waiting for %d more; failures:\n%s",
					served.Load()-start, n, strings.Join(failures, "\n"))
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitServed(200) // warm: pools, buffers, the first runs
	before := rssMB(t)
	overlapped := 0
	for i := 1; i <= reloads; i++ {
		// A new file each time: the same graph with model_version i
		// appended (protobuf field 5), which the metadata then shows.
		replaceFile(t, filepath.Join(dir, "iris", "model.onnx"), servertest.WithModelVersion(irisBytes, uint64(i)))
		finishedBefore := finished.Load()
		res := do(t, "POST", srv.URL+"/v2/repository/models/iris/load", "")
		if res.Status != 200 {
			t.Fatalf("reload %d: %d %s", i, res.Status, res.Body)
		}
		// Some request started before the swap ended and had not finished
		// when it began: it was in flight during the swap.
		if started.Load() > finishedBefore {
			overlapped++
		}
		var info v1.ModelInfo
		json.Unmarshal(do(t, "GET", srv.URL+"/v1/models/iris", "").Body, &info)
		if info.Metadata.Version != int64(i) {
			t.Fatalf("after reload %d the model's version is %d: the new file does not serve", i, info.Metadata.Version)
		}
		if i == reloads/2 {
			unloading.Store(true)
			if res := do(t, "POST", srv.URL+"/v2/repository/models/tabular/unload", ""); res.Status != 200 {
				t.Fatalf("unload: %d %s", res.Status, res.Body)
			}
			unloaded.Store(true)
		}
		waitServed(50) // requests on the new session before the next swap
	}
	stop.Store(true)
	wg.Wait()
	after := rssMB(t)
	t.Logf("%d reloads, %d requests served, %d reloads with requests in flight; RSS %.1f MB before, %.1f MB after (%+.1f MB)",
		reloads, served.Load(), overlapped, before, after, after-before)

	if len(failures) > 0 {
		t.Fatalf("%d+ failed requests, e.g.:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	if overlapped == 0 {
		t.Error("no reload happened while requests were in flight; the test proves nothing")
	}
	if res := do(t, "POST", srv.URL+"/v2/models/tabular/infer", requests[2].body); res.Status != 404 {
		t.Errorf("unloaded model answers %d", res.Status)
	}
}

// replaceFile swaps in new content by rename, as deploy tools do, so the
// server never reads half a file.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
