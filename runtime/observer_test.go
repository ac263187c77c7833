package runtime

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// observedModel loads a shipped model with one run slot and an Observer
// that records the size of every run.
func observedModel(t *testing.T, path string, cfg Config) (*Model, *batchLog) {
	t.Helper()
	log := &batchLog{}
	m, err := LoadModel("test", "1", path, &cfg, LoadOptions{Limiter: NewLimiter(1), Observer: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	log.mu.Lock()
	log.model = m
	log.mu.Unlock()
	return m, log
}

// batchLog is the tests' Observer.
type batchLog struct {
	mu    sync.Mutex
	model *Model   // the one model it observes
	sizes []string // "requests/rows" per run
}

func (l *batchLog) Ran(m *Model, run Run) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m != l.model {
		l.sizes = append(l.sizes, "a run of another model:")
	}
	if run.Infer <= 0 || run.Failed {
		l.sizes = append(l.sizes, "a run without its time, or failed:")
	}
	l.sizes = append(l.sizes, fmt.Sprintf("%d/%d", run.Requests, run.Rows))
}

// reset forgets the runs seen so far.
func (l *batchLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sizes = nil
}

func (l *batchLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.sizes, " ")
}

// TestObserverUnbatched: without dynamic batching every run serves one
// request, reported with that request's batch, and the warm-up runs at
// load are not reported.
func TestObserverUnbatched(t *testing.T) {
	rows, _ := knownRows(t, "../models/iris/1/expected.json", "X")
	m, log := observedModel(t, "../models/iris/1/model.onnx", Config{})
	if got := log.String(); got != "" {
		t.Fatalf("after load: runs %q, want none (warm-ups are not reported)", got)
	}
	for _, pick := range [][]int{{0, 1, 2}, {3}} {
		if _, err := m.Infer(t.Context(), []tensor.Tensor{request(rows, pick)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := log.String(); got != "1/3 1/1" {
		t.Errorf("runs (requests/rows): %s, want 1/3 1/1", got)
	}
}
