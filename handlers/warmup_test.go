package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
	v2 "github.com/onnxserve/onnxserve/handlers/v2"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestWarmupGatesReadiness pins that no REST probe calls a model ready
// before its warmup is done: the slow model (seconds a run at 8192 rows)
// with 2 warmup runs at batch_size 8192, loaded by
// POST /v2/repository/models/slow/load in explicit mode. The test holds the
// server's one run slot from before the load, and a warmup run needs it,
// so the model cannot be warm while the test looks: no timing decides the
// outcome. Once the slot is free the load answers 200 and every probe
// says ready.
func TestWarmupGatesReadiness(t *testing.T) {
	dir := t.TempDir()
	servertest.CopyFile(t, servertest.Path("runtime/testdata/slow.onnx"), filepath.Join(dir, "slow", "model.onnx"))
	servertest.WriteFile(t, filepath.Join(dir, "slow", "config.yaml"), "warmup: {runs: 2, batch_size: 8192}\n")
	limiter := runtime.NewLimiter(1)
	srv, _ := servertest.Start(t, dir, servertest.Options{Control: runtime.ControlExplicit, Load: []string{}, Limiter: limiter})
	probes := []string{"/readyz", "/v2/health/ready", "/v2/models/slow/ready", "/v2/models/slow/versions/1/ready"}

	release := servertest.HoldRunSlot(t, limiter)
	loaded := make(chan loadAnswer, 1)
	go func() { loaded <- load(srv.URL + "/v2/repository/models/slow/load") }()
	// The index says "loading" from the moment the load begins.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		idx := index(t, srv.URL, "")
		if len(idx) == 1 && idx[0] == (v2.IndexEntry{Name: "slow", State: "UNAVAILABLE", Reason: "loading"}) {
			break
		}
		if len(idx) == 1 && idx[0].State == "READY" {
			t.Fatalf("index %+v: ready before its warmup could run", idx)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the load never began: index %+v", idx)
		}
	}
	for _, p := range probes {
		if res := do(t, "GET", srv.URL+p, ""); res.Status == 200 {
			t.Errorf("GET %s during the warmup: %d %s, want not ready", p, res.Status, res.Body)
		}
	}
	var list v1.ModelList
	json.Unmarshal(do(t, "GET", srv.URL+"/v1/models", "").Body, &list)
	if len(list.Models) != 1 || list.Models[0].State != "UNAVAILABLE" || list.Models[0].Reason != "loading" {
		t.Errorf("/v1/models during the warmup: %+v, want slow UNAVAILABLE, loading", list.Models)
	}
	select {
	case a := <-loaded:
		t.Fatalf("the load answered %d %s while its warmup could not run", a.status, a.body)
	default:
	}

	release()
	select {
	case a := <-loaded:
		if a.err != nil || a.status != 200 {
			t.Fatalf("load: %d %s %v", a.status, a.body, a.err)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("the load did not answer within 5 minutes of its warmup's slot being free")
	}
	for _, p := range probes {
		if res := do(t, "GET", srv.URL+p, ""); res.Status != 200 {
			t.Errorf("GET %s after the warmup: %d %s, want ready", p, res.Status, res.Body)
		}
	}
}

type loadAnswer struct {
	status int
	body   string
	err    error
}

// load posts a load request; unlike do it may run on any goroutine.
func load(url string) loadAnswer {
	res, err := http.Post(url, "application/json", nil)
	if err != nil {
		return loadAnswer{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return loadAnswer{res.StatusCode, string(b), err}
}

// TestWarmupFailureIsLoadFailure pins that a warmup that fails in ONNX
// Runtime fails the load, with its reason in /v1/models, the v2 index and
// the load's answer, and that the readiness probes say so: whether the
// model loads at start (--skip-bad-models), on an explicit load, or on a
// reload, which leaves the version before serving. The model runs at batch
// 1 but not 2 (servertest.BroadcastModel), so a warmup at batch_size 2 is
// what fails; iris beside it serves throughout.
func TestWarmupFailureIsLoadFailure(t *testing.T) {
	const reason = "bad model: broadcast/model.onnx: warmup run 1 of 1 at batch_size 2: "
	const broadcast = "Attempting to broadcast an axis by a dimension other than 1. 2 by 3"
	for _, tc := range []struct {
		name    string
		control runtime.ModelControl
		// before is config.yaml at start, "" for none; the test then
		// writes the warmup and, in explicit mode, loads.
		before string
		// serving: the version before still serves.
		serving bool
	}{
		{name: "at start", control: runtime.ControlNone},
		{name: "explicit load", control: runtime.ControlExplicit},
		{name: "reload", control: runtime.ControlExplicit, before: "description: no warmup\n", serving: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			servertest.CopyFile(t, "../models/iris/1/model.onnx", filepath.Join(dir, "iris", "model.onnx"))
			servertest.WriteFile(t, filepath.Join(dir, "broadcast", "model.onnx"), string(servertest.BroadcastModel()))
			config := filepath.Join(dir, "broadcast", "config.yaml")
			warmup := "warmup: {runs: 1, batch_size: 2}\n"
			opt := servertest.Options{Control: tc.control, SkipBad: true}
			if tc.control == runtime.ControlExplicit {
				opt.Load = []string{"iris"}
				if tc.before != "" {
					servertest.WriteFile(t, config, tc.before)
					opt.Load = append(opt.Load, "broadcast")
				}
			} else {
				servertest.WriteFile(t, config, warmup)
			}
			srv, _ := servertest.Start(t, dir, opt)
			if tc.control == runtime.ControlExplicit {
				servertest.WriteFile(t, config, warmup)
				res := do(t, "POST", srv.URL+"/v2/repository/models/broadcast/load", "")
				if res.Status != 400 || !strings.Contains(string(res.Body), reason) || !strings.Contains(string(res.Body), broadcast) {
					t.Errorf("load: %d %s, want 400 with %q", res.Status, res.Body, reason)
				}
			}

			want := reason
			if tc.serving {
				want = "serving the previous load; the last load failed: " + reason
			}
			found := false
			for _, e := range index(t, srv.URL, "") {
				if e.Name != "broadcast" {
					continue
				}
				found = true
				if !strings.HasPrefix(e.Reason, want) || !strings.Contains(e.Reason, broadcast) ||
					e.State != map[bool]string{true: "READY", false: "UNAVAILABLE"}[tc.serving] {
					t.Errorf("index: %+v, want the reason %q", e, want)
				}
			}
			if !found {
				t.Error("broadcast is not in the index")
			}
			if !tc.serving {
				var list v1.ModelList
				json.Unmarshal(do(t, "GET", srv.URL+"/v1/models", "").Body, &list)
				if m := list.Models[0]; m.Name != "broadcast" || m.State != "UNAVAILABLE" || !strings.HasPrefix(m.Reason, reason) || !strings.Contains(m.Reason, broadcast) {
					t.Errorf("/v1/models: %+v, want broadcast UNAVAILABLE with %q", m, reason)
				}
			}
			ready := map[bool]int{true: 200, false: 503}[tc.serving]
			if res := do(t, "GET", srv.URL+"/readyz", ""); res.Status != ready {
				t.Errorf("/readyz: %d %s, want %d", res.Status, res.Body, ready)
			}
			if res := do(t, "POST", srv.URL+"/v2/models/iris/infer", irisInfer); res.Status != 200 {
				t.Errorf("iris: %d %s", res.Status, res.Body)
			}
		})
	}
}

// TestWarmupNotCounted pins that warmup runs are not counted as requests
// or runs in /metrics: after iris warmed up with 3 runs of 4 rows nothing
// is counted, and one request of one row then counts one of each.
func TestWarmupNotCounted(t *testing.T) {
	dir := t.TempDir()
	servertest.CopyFile(t, "../models/iris/1/model.onnx", filepath.Join(dir, "iris", "model.onnx"))
	servertest.CopyFile(t, "../models/iris/config.yaml", filepath.Join(dir, "iris", "config.yaml"))
	config, err := os.ReadFile(filepath.Join(dir, "iris", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	servertest.WriteFile(t, filepath.Join(dir, "iris", "config.yaml"), string(config)+"warmup: {runs: 3, batch_size: 4}\n")
	mt := metrics.New(metrics.Options{})
	srv, _ := servertest.Start(t, dir, servertest.Options{Metrics: mt})
	iris := map[string]string{"model": "iris", "version": "1"}
	counted := func() [5]float64 {
		fams := scrape(t, srv.URL)
		var got [5]float64
		for i, name := range []string{"nv_inference_request_success", "nv_inference_count", "nv_inference_exec_count", "onnxserve_batch_size", "onnxserve_model_ready"} {
			got[i] = sample(fams, name, iris)
		}
		return got
	}
	// success, count (rows), exec_count, batch_size samples, model_ready
	if got, want := counted(), [5]float64{0, 0, 0, 0, 1}; got != want {
		t.Errorf("after the warmup: %v, want %v", got, want)
	}
	if res := do(t, "POST", srv.URL+"/v2/models/iris/infer", irisInfer); res.Status != 200 {
		t.Fatalf("infer: %d %s", res.Status, res.Body)
	}
	if got, want := counted(), [5]float64{1, 1, 1, 1, 1}; got != want {
		t.Errorf("after one request of one row: %v, want %v", got, want)
	}
}
