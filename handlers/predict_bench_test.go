package handlers_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/accesslog"
	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// The request-path benchmarks run on the models and bodies that
// scripts/bench.sh prepares (make_models.py's iris and 784-512-512-10 MLP,
// bodies written by Python's json), so their numbers line up with the HTTP
// benchmark. ONNXSERVE_BENCH_DIR points elsewhere, e.g. at an older tree.

// benchDir returns the prepared bench directory, or skips.
func benchDir(b *testing.B) string {
	dir := os.Getenv("ONNXSERVE_BENCH_DIR")
	if dir == "" {
		dir = "../.cache/bench"
	}
	if _, err := os.Stat(filepath.Join(dir, "repo")); err != nil {
		b.Skipf("no bench models in %s: run `scripts/bench.sh prepare` first", dir)
	}
	return dir
}

// benchCase is one workload of docs/benchmarks.md, in process.
type benchCase struct {
	name, model, body string
}

var benchCases = []benchCase{
	{"iris-named-1", "iris", "iris_named.json"},
	{"iris-rows-64", "iris", "iris_rows64.json"},
	{"mlp-rows-1", "mlp", "mlp_b1.json"},
	{"mlp-rows-32", "mlp", "mlp_b32.json"},
}

func benchRepo(b *testing.B) (*runtime.Repository, string) {
	dir := benchDir(b)
	return servertest.Open(b, filepath.Join(dir, "repo"), servertest.Options{}), dir
}

func benchBody(b *testing.B, dir, name string) []byte {
	body, err := os.ReadFile(filepath.Join(dir, "bodies", name))
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkPredict is the whole handler, in process: routing, body read,
// decode, run, encode. Compare with the HTTP numbers to see what the
// network stack costs.
func BenchmarkPredict(b *testing.B) {
	repo, dir := benchRepo(b)
	h := servertest.Handler(repo, servertest.Options{MaxBodyBytes: 32 << 20})
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			body := benchBody(b, dir, c.body)
			client := newBenchClient(c.model)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if status := client.post(h, body); status != http.StatusOK {
					b.Fatalf("status %d", status)
				}
			}
		})
	}
}

// BenchmarkPredictParallel is the same with 32 concurrent requests per
// core (the HTTP benchmark's 32 connections), which is what lets the
// mlp_batched model merge them.
func BenchmarkPredictParallel(b *testing.B) {
	repo, dir := benchRepo(b)
	h := servertest.Handler(repo, servertest.Options{MaxBodyBytes: 32 << 20})
	cases := append(benchCases, benchCase{"mlp-rows-1-batched", "mlp_batched", "mlp_b1.json"})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			body := benchBody(b, dir, c.body)
			b.SetBytes(int64(len(body)))
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				client := newBenchClient(c.model)
				for pb.Next() {
					if status := client.post(h, body); status != http.StatusOK {
						b.Errorf("status %d", status)
						return
					}
				}
			})
		})
	}
}

// benchClient posts to a model's predict handler in process, reusing its
// request and response writer so that allocations counted are the handler's.
type benchClient struct {
	req  *http.Request
	body *rewindBody
	w    *discardWriter
}

func newBenchClient(model string) *benchClient {
	c := &benchClient{body: &rewindBody{}, w: &discardWriter{header: http.Header{}}}
	c.req = httptest.NewRequest("POST", "/v1/models/"+model+"/predict", c.body)
	return c
}

func (c *benchClient) post(h http.Handler, body []byte) int {
	c.body.Reset(body)
	c.w.status = 0
	h.ServeHTTP(c.w, c.req)
	return c.w.status
}

// rewindBody is a request body the benchmark rewinds instead of
// reallocating, so that allocations counted are the handler's.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// discardWriter is the cheapest http.ResponseWriter: it keeps the status.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

// BenchmarkObserved is W1 (iris, one named-feature row) in process with
// what the server observes of each request: nothing, the metrics, and the
// metrics with the access log (written by the server's text logger to
// io.Discard: the cost of making the line, not of writing it).
func BenchmarkObserved(b *testing.B) {
	dir := benchDir(b)
	for _, c := range []struct {
		name              string
		metrics, accessed bool
	}{{"plain", false, false}, {"metrics", true, false}, {"metrics-access-log", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			opt := servertest.Options{MaxBodyBytes: 32 << 20, AccessLog: c.accessed, Logger: slog.New(accesslog.NewHandler(io.Discard, false, nil))}
			if c.metrics {
				opt.Metrics = metrics.New(metrics.Options{})
			}
			c := struct{ opt servertest.Options }{opt}
			repo := servertest.Open(b, filepath.Join(dir, "repo"), c.opt)
			h := servertest.Handler(repo, c.opt)
			body := benchBody(b, dir, "iris_named.json")
			client := newBenchClient("iris")
			b.ReportAllocs()
			for b.Loop() {
				if status := client.post(h, body); status != http.StatusOK {
					b.Fatalf("status %d", status)
				}
			}
		})
	}
}
