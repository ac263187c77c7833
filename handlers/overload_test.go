package handlers_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// Overload behaviour over real loopback HTTP: past max_queue_size a predict
// gets 503 with Retry-After at once, while health checks, which never touch
// ONNX Runtime, keep answering. Statuses are asserted, never speed: the
// test holds the only run slot itself, so "at once" means "while no run
// can finish", which needs no clock.

const overloadClients = 200

// overloadServer serves a copy of iris with max_queue_size 4 (and dynamic
// batching when batched) behind a run limiter of one slot, which it
// returns so the test can hold it.
func overloadServer(t *testing.T, batched bool) (*httptest.Server, *runtime.Limiter) {
	t.Helper()
	dir := t.TempDir()
	servertest.CopyFile(t, "../models/iris/1/model.onnx", filepath.Join(dir, "iris", "model.onnx"))
	cfg := "features: [sepal_length, sepal_width, petal_length, petal_width]\nmax_queue_size: 4\n"
	if batched {
		cfg += "max_batch_size: 8\ndynamic_batching: {}\n"
	}
	servertest.WriteFile(t, filepath.Join(dir, "iris", "config.yaml"), cfg)
	lim := runtime.NewLimiter(1)
	srv, _ := servertest.Start(t, dir, servertest.Options{Limiter: lim})
	return srv, lim
}

// outcome is what one request got: a status and its Retry-After, or an error.
type outcome struct {
	status     int
	retryAfter string
	body       string
	err        error
}

func send(client *http.Client, method, url, body string) outcome {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return outcome{res.StatusCode, res.Header.Get("Retry-After"), string(b), err}
}

func overloadClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: overloadClients}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

const namedIrisRow = `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`

// TestOverloadRefusesAtOnce: with the run slot held, 200 concurrent
// predicts fill the queue of 4 and the other 196 are all refused with 503
// and Retry-After before anything runs; /healthz answers 200 meanwhile;
// once the slot is free the 4 queued ones succeed.
func TestOverloadRefusesAtOnce(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			srv, lim := overloadServer(t, batched)
			client := overloadClient(t)
			lim.Acquire(t.Context())
			results := make(chan outcome, overloadClients)
			for range overloadClients {
				go func() { results <- send(client, "POST", srv.URL+"/v1/models/iris/predict", namedIrisRow) }()
			}
			// Every refusal arrives while no run can happen.
			for range overloadClients - 4 {
				r := <-results
				if r.err != nil || r.status != http.StatusServiceUnavailable || r.retryAfter == "" || !strings.Contains(r.body, `"error"`) {
					t.Fatalf("while the queue is full: %+v, want 503 with Retry-After and an error body", r)
				}
			}
			for range 20 {
				if r := send(client, "GET", srv.URL+"/healthz", ""); r.err != nil || r.status != http.StatusOK {
					t.Fatalf("healthz under overload: %+v", r)
				}
			}
			lim.Release()
			for range 4 {
				if r := <-results; r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, `"label":[0]`) {
					t.Fatalf("queued request: %+v, want 200 with its prediction", r)
				}
			}
		})
	}
}

// TestOverloadFreeRunning: 200 clients hammer predict and health at once;
// every predict is answered 200 or 503 (never an error or a hang) and
// every health check 200.
func TestOverloadFreeRunning(t *testing.T) {
	srv, _ := overloadServer(t, true)
	client := overloadClient(t)
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	for c := range overloadClients {
		wg.Go(func() {
			for range 5 {
				url, method, body := srv.URL+"/v1/models/iris/predict", "POST", namedIrisRow
				if c%10 == 0 {
					url, method, body = srv.URL+"/healthz", "GET", ""
				}
				r := send(client, method, url, body)
				key := fmt.Sprintf("%s %d", method, r.status)
				if r.err != nil {
					key = "error: " + r.err.Error()
				} else if r.status == http.StatusServiceUnavailable && r.retryAfter == "" {
					key = "503 without Retry-After"
				}
				mu.Lock()
				counts[key]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for key, n := range counts {
		if key != "POST 200" && key != "POST 503" && key != "GET 200" {
			t.Errorf("%d × %s", n, key)
		}
	}
	if counts["GET 200"] != overloadClients/10*5 || counts["POST 200"] == 0 {
		t.Errorf("counts %v: want every health check 200 and some predictions through", counts)
	}
	t.Logf("%v", counts)
}
