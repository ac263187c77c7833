package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestWarmupConfig pins the validation of warmup: at least one run, a
// batch_size of at least 1 and, when max_batch_size is set, no more than
// a request may send.
func TestWarmupConfig(t *testing.T) {
	for yaml, want := range map[string]string{
		"warmup: {}\n":                                          "warmup: runs must be 1 or more, got 0",
		"warmup: {runs: 0, batch_size: 1}\n":                    "warmup: runs must be 1 or more, got 0",
		"warmup: {runs: 1}\n":                                   "warmup: batch_size must be 1 or more, got 0",
		"warmup: {runs: 1, batch_size: -2}\n":                   "warmup: batch_size must be 1 or more, got -2",
		"max_batch_size: 8\nwarmup: {runs: 1, batch_size: 9}\n": "warmup: batch_size must be at most max_batch_size (8), got 9",
		"warmup: {runs: 1, batch_size: 1, rows: 2}\n":           "field rows not found",
		"max_batch_size: 8\nwarmup: {runs: 3, batch_size: 8}\n": "",
		"warmup: {runs: 1, batch_size: 8192}\n":                 "",
		"warmup:\n":                                             "",
	} {
		_, err := readConfigText(t, yaml)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", yaml, err, want)
		}
	}
}

// TestZeroInputs pins the inputs warmup generates from a signature: zeros
// (empty strings) of each dtype, dim 0 the batch when it is dynamic, other
// dynamic dims 1, fixed dims and scalars as declared.
func TestZeroInputs(t *testing.T) {
	specs := []tensor.TensorSpec{
		{Name: "rows", DType: tensor.Float32, Shape: []int64{-1, 3}},
		{Name: "any", DType: tensor.Int64, Shape: []int64{-1, -1, 2}},
		{Name: "fixed", DType: tensor.Float64, Shape: []int64{2, -1}},
		{Name: "scalar", DType: tensor.Float32, Shape: []int64{}},
		{Name: "text", DType: tensor.String, Shape: []int64{-1}},
		{Name: "flags", DType: tensor.Bool, Shape: []int64{-1}},
	}
	want := []tensor.Tensor{
		{DType: tensor.Float32, Shape: []int64{5, 3}, Data: make([]float32, 15)},
		{DType: tensor.Int64, Shape: []int64{5, 1, 2}, Data: make([]int64, 10)},
		{DType: tensor.Float64, Shape: []int64{2, 1}, Data: make([]float64, 2)},
		{DType: tensor.Float32, Shape: []int64{}, Data: make([]float32, 1)},
		{DType: tensor.String, Shape: []int64{5}, Data: []string{"", "", "", "", ""}},
		{DType: tensor.Bool, Shape: []int64{5}, Data: make([]bool, 5)},
	}
	got := zeroInputs(specs, 5)
	for i := range specs {
		if !slices.Equal(got[i].Shape, want[i].Shape) || got[i].DType != want[i].DType || !equalData(got[i].Data, want[i].Data) {
			t.Errorf("%s: %v %v %v, want %v %v %v", specs[i].Name, got[i].DType, got[i].Shape, got[i].Data, want[i].DType, want[i].Shape, want[i].Data)
		}
	}
}

func equalData(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestWarmupInputs pins where a warmup's values come from: the config's
// example, in every row, when it is a named-feature body (iris's, in
// models/iris/config.yaml: 5.1, 3.5, 1.4, 0.2), zeros for any other
// example (tabular's is an inputs body) or none.
func TestWarmupInputs(t *testing.T) {
	setosa := []float32{5.1, 3.5, 1.4, 0.2}
	for _, tc := range []struct {
		name, model, config string
		from                string
		want                []tensor.Tensor
	}{
		{"iris with its example", "../models/iris/1/model.onnx", "../models/iris/config.yaml", "example",
			[]tensor.Tensor{{DType: tensor.Float32, Shape: []int64{3, 4}, Data: slices.Concat(setosa, setosa, setosa)}}},
		{"iris without an example", "../models/iris/1/model.onnx", "", "zeros",
			[]tensor.Tensor{{DType: tensor.Float32, Shape: []int64{3, 4}, Data: make([]float32, 12)}}},
		{"tabular, whose example is not named features", "../models/tabular/model.onnx", "../models/tabular/config.yaml", "zeros",
			[]tensor.Tensor{{DType: tensor.Float32, Shape: []int64{3, 3}, Data: make([]float32, 9)},
				{DType: tensor.Int64, Shape: []int64{3}, Data: make([]int64, 3)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{}
			if tc.config != "" {
				var err error
				if cfg, err = ReadConfig(tc.config); err != nil {
					t.Fatal(err)
				}
			}
			cfg.Warmup = &Warmup{Runs: 1, BatchSize: 3}
			m, err := LoadModel("test", "1", tc.model, cfg, quietOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			got, from := m.warmupInputs()
			if from != tc.from {
				t.Errorf("inputs from %q, want %q", from, tc.from)
			}
			for i := range tc.want {
				if !slices.Equal(got[i].Shape, tc.want[i].Shape) || !equalData(got[i].Data, tc.want[i].Data) {
					t.Errorf("input %d: %v %v, want %v %v", i, got[i].Shape, got[i].Data, tc.want[i].Shape, tc.want[i].Data)
				}
			}
		})
	}
}

// TestWarmupEveryModel pins that the generated inputs run on every shipped
// and test model, whatever its dtypes (strings, bools, halves, scalars,
// ZipMap outputs).
func TestWarmupEveryModel(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.onnx")
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, "../models/iris/1/model.onnx", "../models/digits/model.onnx", "../models/tabular/model.onnx")
	for _, p := range paths {
		if strings.HasSuffix(p, "slow.onnx") {
			continue // seconds a run at this batch; the handlers' readiness tests warm it up
		}
		if strings.HasSuffix(p, "reshape.onnx") {
			continue // refuses every batch*n that is not a multiple of 32, by design (rejected_test.go)
		}
		cfg := &Config{Warmup: &Warmup{Runs: 2, BatchSize: 3}}
		if m, err := LoadModel("test", "1", p, cfg, quietOptions()); err != nil {
			t.Errorf("%s: %v", p, err)
		} else {
			m.Close()
		}
	}
}

// TestWarmupNotObserved pins that warmup runs serve no request and are not
// reported to the Observer, batched or not, while the runs of requests
// after it are; and that the log says the warmup ran, on what inputs.
func TestWarmupNotObserved(t *testing.T) {
	rows, _ := knownRows(t, "../models/iris/1/expected.json", "X")
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"unbatched", Config{}},
		{"dynamic batching", Config{MaxBatchSize: 8, DynamicBatching: &DynamicBatching{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ReadConfig("../models/iris/config.yaml")
			if err != nil {
				t.Fatal(err)
			}
			cfg.MaxBatchSize, cfg.DynamicBatching = tc.cfg.MaxBatchSize, tc.cfg.DynamicBatching
			cfg.Warmup = &Warmup{Runs: 3, BatchSize: 4}
			var logged bytes.Buffer
			opt := LoadOptions{Limiter: NewLimiter(1), Observer: &batchLog{}, Logger: jsonLogger(&logged)}
			m, err := LoadModel("test", "1", "../models/iris/1/model.onnx", cfg, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			log := opt.Observer.(*batchLog)
			log.mu.Lock()
			log.model = m
			log.mu.Unlock()
			if got := log.String(); got != "" {
				t.Fatalf("after load: runs %q, want none (warmup serves no request)", got)
			}
			start := record(t, &logged, "warming up model")
			if start["runs"] != 3.0 || start["batch_size"] != 4.0 || start["inputs"] != "example" {
				t.Errorf("warmup log %v, want 3 runs at batch_size 4 of the example", start)
			}
			record(t, &logged, "model warmed up")
			if _, err := m.Infer(t.Context(), []tensor.Tensor{request(rows, []int{0, 1})}); err != nil {
				t.Fatal(err)
			}
			if got := log.String(); got != "1/2" {
				t.Errorf("runs (requests/rows) after one request of 2 rows: %s, want 1/2", got)
			}
		})
	}
}

// record is the first JSON log record with message msg, or fails the test.
func record(t *testing.T, logged *bytes.Buffer, msg string) map[string]any {
	t.Helper()
	for line := range strings.Lines(logged.String()) {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == msg {
			return r
		}
	}
	t.Fatalf("no %q in the log:\n%s", msg, logged)
	return nil
}

// TestWarmupBeforePublish pins that a model is published only once its
// warmup is done. The test holds the one run slot, so the warmup cannot
// run for as long as the test looks: a first load leaves the model
// unavailable, its reason "loading", and the repository not ready; a
// reload leaves the old version serving and the repository ready. Once the
// slot is free the load ends and the new version serves.
func TestWarmupBeforePublish(t *testing.T) {
	for _, tc := range []struct {
		name   string
		loaded bool // a version serves before the load
	}{
		{"first load", false},
		{"reload", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := testRepo(t, "old")
			watch := &logWatch{want: "warming up model", seen: make(chan struct{})}
			limiter := NewLimiter(1)
			r, err := NewRepository(dir, LoadOptions{Limiter: limiter, Logger: jsonLogger(watch)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			if tc.loaded {
				if err := r.Load("iris"); err != nil {
					t.Fatal(err)
				}
			}
			writeTestFile(t, filepath.Join(dir, "iris", "config.yaml"), []byte("description: new\nwarmup: {runs: 2, batch_size: 4}\n"))

			if err := limiter.Acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
			loaded := make(chan error, 1)
			go func() { loaded <- r.Load("iris") }()
			select {
			case <-watch.seen:
			case err := <-loaded:
				limiter.Release()
				t.Fatalf("the load ended (%v) before its warmup began", err)
			case <-time.After(time.Minute):
				limiter.Release()
				t.Fatal("the warmup did not begin within a minute")
			}
			if got := r.Ready(); got != tc.loaded {
				t.Errorf("during the warmup: Ready %v, want %v", got, tc.loaded)
			}
			m, release, err := r.Acquire("iris", "")
			if tc.loaded {
				if err != nil || m.Config.Description != "old" {
					t.Errorf("during the warmup: %v, want the old version serving", err)
				}
			} else {
				var un *UnavailableError
				if !errors.As(err, &un) || !errors.Is(err, errLoading) {
					t.Errorf("during the warmup: %v, want the model unavailable while loading", err)
				}
				idx, _ := r.Index()
				if want := []IndexEntry{{Name: "iris", State: StateUnavailable, Reason: "loading"}}; !slices.Equal(idx, want) {
					t.Errorf("index during the warmup: %+v, want %+v", idx, want)
				}
			}
			if release != nil {
				release() // a reload waits for the old version's last holder
			}
			limiter.Release()

			select {
			case err := <-loaded:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the load did not end within a minute of its warmup's slot being free")
			}
			if !r.Ready() {
				t.Error("after the warmup: not ready")
			}
			m, release, err = r.Acquire("iris", "")
			if err != nil || m.Config.Description != "new" {
				t.Fatalf("after the warmup: %v, want the new version", err)
			}
			release()
		})
	}
}

// logWatch is a log's writer that closes seen once a line holds want.
type logWatch struct {
	want string
	seen chan struct{}
	once sync.Once
}

func (w *logWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func jsonLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
