package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// The batcher tests check results against the outputs stored beside the
// shipped models at export time (numpy/sklearn), row by row: a request
// that got another request's rows, or rows of a different merge, fails.
// Batch composition is made deterministic by holding the only run slot
// while requests queue, never by sleeping.

// knownRow is one input row of a model and the expected row of each output.
type knownRow struct {
	in   []float64
	outs map[string][]float64
}

// knownRows flattens a model's expected.json into independent rows.
func knownRows(t *testing.T, path, input string) ([]knownRow, float64) {
	t.Helper()
	exp := readExpected(t, path)
	var rows []knownRow
	for _, c := range exp.Cases {
		ins := splitLeaves(c.Inputs[input])
		outs := map[string][][]float64{}
		for name, raw := range c.Outputs {
			outs[name] = splitLeaves(raw)
		}
		for r, in := range ins {
			k := knownRow{in: in, outs: map[string][]float64{}}
			for name, o := range outs {
				k.outs[name] = o[r]
			}
			rows = append(rows, k)
		}
	}
	return rows, exp.Atol
}

// splitLeaves reads nested arrays as one []float64 per row (dim 0).
func splitLeaves(raw json.RawMessage) [][]float64 {
	shape, leaves := flatten(raw)
	n := int(shape[0])
	stride := len(leaves) / n
	rows := make([][]float64, n)
	for r := range rows {
		for _, l := range leaves[r*stride : (r+1)*stride] {
			f, _ := l.(json.Number).Float64()
			rows[r] = append(rows[r], f)
		}
	}
	return rows
}

// request builds a float32 input tensor from the given rows.
func request(rows []knownRow, pick []int) tensor.Tensor {
	width := len(rows[0].in)
	data := make([]float32, 0, len(pick)*width)
	for _, i := range pick {
		for _, f := range rows[i].in {
			data = append(data, float32(f))
		}
	}
	return tensor.Tensor{DType: tensor.Float32, Shape: []int64{int64(len(pick)), int64(width)}, Data: data}
}

// checkRows compares every output of a response with the known rows picked.
func checkRows(m *Model, rows []knownRow, pick []int, outs []tensor.Tensor, atol float64) error {
	for o, spec := range m.Signature.Outputs {
		got := asFloats(outs[o].Data)
		if outs[o].Shape[0] != int64(len(pick)) {
			return fmt.Errorf("%s: shape %v for %d rows", spec.Name, outs[o].Shape, len(pick))
		}
		stride := len(got) / len(pick)
		for r, i := range pick {
			want := rows[i].outs[spec.Name]
			for k, w := range want {
				if spec.DType == tensor.Float32 {
					w = float64(float32(w))
				}
				if g := got[r*stride+k]; math.Abs(g-w) > atol*math.Max(1, math.Abs(w)) {
					return fmt.Errorf("%s row %d (known row %d) [%d] = %v, want %v", spec.Name, r, i, k, g, w)
				}
			}
		}
	}
	return nil
}

// waitQueued waits until n requests are in the batcher's queue.
func waitQueued(t *testing.T, b *batcher, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d requests, want %d", b.queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatcherOwnRows sends distinct multi-row requests from many clients
// at once, merged into one run, and checks every client got exactly the
// rows its own inputs give.
func TestBatcherOwnRows(t *testing.T) {
	for _, c := range []struct{ name, model, expected, input string }{
		{"iris", "../models/iris/1/model.onnx", "../models/iris/1/expected.json", "X"},
		{"digits", "../models/digits/model.onnx", "../models/digits/expected.json", "pixels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, atol := knownRows(t, c.expected, c.input)
			m, log := observedModel(t, c.model, Config{MaxBatchSize: 64, DynamicBatching: &DynamicBatching{}})
			// Client i sends 1–3 rows starting at row i: no two requests alike.
			clients, total := len(rows), 0
			picks := make([][]int, clients)
			for i := range picks {
				for j := range 1 + i%3 {
					picks[i] = append(picks[i], (i+j)%len(rows))
				}
				total += len(picks[i])
			}
			// Hold the only run slot until every request is queued, so that
			// they all meet in one merged run.
			m.limiter.Acquire(t.Context())
			errs := make(chan error, clients)
			for i, pick := range picks {
				go func() {
					outs, err := m.Infer(t.Context(), []tensor.Tensor{request(rows, pick)})
					if err == nil {
						err = checkRows(m, rows, pick, outs, atol)
					}
					if err != nil {
						err = fmt.Errorf("client %d: %w", i, err)
					}
					errs <- err
				}()
			}
			waitQueued(t, m.batcher, clients)
			m.limiter.Release()
			for range clients {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if log.String() != fmt.Sprintf("%d/%d", clients, total) {
				t.Errorf("runs (requests/rows): %s; want all %d requests in one run", log, clients)
			}
		})
	}
}

// TestBatcherConcurrent is the free-running version: many clients, many
// requests each, batches formed however the scheduler falls. With clients
// that leave, every third request's context ends a moment after it is
// sent, whenever that falls (queued, being merged, running): it gets its
// own rows or its context's error, nothing else. Either way no request
// stays counted in the queue.
func TestBatcherConcurrent(t *testing.T) {
	rows, atol := knownRows(t, "../models/digits/expected.json", "pixels")
	for _, leaving := range []bool{false, true} {
		t.Run(fmt.Sprintf("leaving=%v", leaving), func(t *testing.T) {
			m, log := observedModel(t, "../models/digits/model.onnx", Config{MaxBatchSize: 8, DynamicBatching: &DynamicBatching{}})
			var wg sync.WaitGroup
			for c := range 8 {
				wg.Go(func() {
					for r := range 50 {
						pick := []int{(c + r) % len(rows)}
						if r%4 == 0 {
							pick = append(pick, (c+r+1)%len(rows), (c+r+5)%len(rows))
						}
						ctx, cancel := context.WithCancel(t.Context())
						leaves := leaving && r%3 == 0
						if leaves {
							time.AfterFunc(time.Duration(r*7%200)*time.Microsecond, cancel)
						}
						outs, err := m.Infer(ctx, []tensor.Tensor{request(rows, pick)})
						cancel()
						if err == nil {
							err = checkRows(m, rows, pick, outs, atol)
						} else if leaves && errors.Is(err, context.Canceled) {
							continue
						}
						if err != nil {
							t.Errorf("client %d request %d: %v", c, r, err)
							return
						}
					}
				})
			}
			wg.Wait()
			t.Logf("runs (requests/rows): %s", log)
			if n := m.admit.queued(); n != 0 {
				t.Errorf("%d requests still counted against max_queue_size after all were answered", n)
			}
		})
	}
}

// TestBatcherLimits pins how batches are cut: a request over
// max_batch_size runs alone, preferred sizes cut the rest, the queue
// refuses past max_queue_size, and a request cancelled while queued is
// never run.
func TestBatcherLimits(t *testing.T) {
	rows, atol := knownRows(t, "../models/iris/1/expected.json", "X")
	m, log := observedModel(t, "../models/iris/1/model.onnx", Config{
		MaxQueueSize:    6,
		MaxBatchSize:    4,
		DynamicBatching: &DynamicBatching{PreferredBatchSizes: []int{2}},
	})
	m.limiter.Acquire(t.Context())
	picks := [][]int{{0, 1, 2, 3, 4}, {5}, {6}, {7}, {8}} // 5 rows: over the maximum
	errs := make(chan error, len(picks))
	for i, pick := range picks {
		go func() {
			outs, err := m.Infer(t.Context(), []tensor.Tensor{request(rows, pick)})
			if err == nil {
				err = checkRows(m, rows, pick, outs, atol)
			}
			errs <- err
		}()
		waitQueued(t, m.batcher, i+1) // one at a time: the queue's order is the test's
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := make(chan error, 1)
	go func() {
		_, err := m.Infer(ctx, []tensor.Tensor{request(rows, []int{9})})
		cancelled <- err
	}()
	waitQueued(t, m.batcher, 6)

	_, err := m.Infer(t.Context(), []tensor.Tensor{request(rows, []int{10})})
	var ol *OverloadedError
	if !errors.As(err, &ol) || ol.RetryAfter <= 0 {
		t.Fatalf("7th request with max_queue_size 6: %v, want *OverloadedError with RetryAfter", err)
	}
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	waitQueued(t, m.batcher, 5)

	m.limiter.Release()
	for range picks {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// The 5-row request alone, then the four single rows cut to the
	// preferred size 2; the cancelled one in none of them.
	if got := log.String(); got != "1/5 2/2 2/2" {
		t.Errorf("runs (requests/rows): %s, want 1/5 2/2 2/2", got)
	}
	if n := m.admit.queued(); n != 0 {
		t.Errorf("%d requests still counted against max_queue_size after all were answered", n)
	}
}

// TestQueueLimitUnbatched: max_queue_size also bounds the requests waiting
// for a run slot on a model without dynamic batching.
func TestQueueLimitUnbatched(t *testing.T) {
	rows, _ := knownRows(t, "../models/iris/1/expected.json", "X")
	m, err := LoadModel("test", "1", "../models/iris/1/model.onnx", &Config{MaxQueueSize: 1}, LoadOptions{Limiter: NewLimiter(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.limiter.Acquire(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := m.Infer(t.Context(), []tensor.Tensor{request(rows, []int{0})})
		done <- err
	}()
	for m.admit.queued() != 1 {
		time.Sleep(time.Millisecond)
	}
	_, err = m.Infer(t.Context(), []tensor.Tensor{request(rows, []int{1})})
	var ol *OverloadedError
	if !errors.As(err, &ol) {
		t.Fatalf("second waiting request with max_queue_size 1: %v, want *OverloadedError", err)
	}
	m.limiter.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := m.admit.queued(); n != 0 {
		t.Errorf("%d requests still counted against max_queue_size after all were answered", n)
	}
}

// TestDynamicBatchingRefused: a model whose requests cannot be merged or
// whose outputs cannot be split back fails to load, saying why.
func TestDynamicBatchingRefused(t *testing.T) {
	cfg := &Config{MaxBatchSize: 8, DynamicBatching: &DynamicBatching{}}
	for model, want := range map[string]string{
		"testdata/zipmap.onnx": `output "output_probability" (seq(map)`,
		"testdata/scalar.onnx": `input "scale" has shape []`,
	} {
		_, err := LoadModel("test", "1", model, cfg, LoadOptions{})
		if err == nil || !errors.Is(err, ErrBadModel) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "dynamic_batching") {
			t.Errorf("%s: %v, want an ErrBadModel naming dynamic_batching and %s", model, err, want)
		}
	}
}

// TestDynamicBatchingConfig pins the validation of the batching keys: one
// max_batch_size, at the top level, bounds both a request and a merged
// run, and the old nested key is refused saying what to write instead.
func TestDynamicBatchingConfig(t *testing.T) {
	for yaml, want := range map[string]string{
		"max_queue_size: -1\n": "max_queue_size must be 0 or more",
		"max_batch_size: -1\n": "max_batch_size must be 0 or more",
		"dynamic_batching: {}\n": "dynamic_batching needs a top-level max_batch_size of 1 or more, " +
			"the largest batch a request may send and the most rows one merged run holds; it is 0 or unset",
		"max_batch_size: 0\ndynamic_batching: {max_queue_delay_us: 5}\n":                             "dynamic_batching needs a top-level max_batch_size of 1 or more",
		"dynamic_batching: {max_batch_size: 8}\n":                                                    "dynamic_batching.max_batch_size is no longer read: delete it and set max_batch_size at the top level, which bounds both a request and a merged batch",
		"dynamic_batching: {max_batch_size: 0}\n":                                                    "max_batch_size is no longer read",
		"dynamic_batching:\n  max_batch_size:\n":                                                     "max_batch_size is no longer read",
		"dynamic_batching: {max_batch_size: 8, preferred_batch_sizes: [2, 8]}\n":                     "max_batch_size is no longer read",
		"max_batch_size: 8\ndynamic_batching: {max_batch_size: 8}\n":                                 "max_batch_size is no longer read",
		"max_batch_size: 8\ndynamic_batching: {max_queue_delay_us: -5}\n":                            "max_queue_delay_us must be",
		"max_batch_size: 8\ndynamic_batching: {preferred_batch_sizes: [4, 2]}\n":                     "preferred_batch_sizes must ascend",
		"max_batch_size: 8\ndynamic_batching: {preferred_batch_sizes: [0, 2]}\n":                     "preferred_batch_sizes must ascend",
		"max_batch_size: 8\ndynamic_batching: {preferred_batch_sizes: [16]}\n":                       "preferred_batch_sizes must ascend strictly within 1..max_batch_size (8)",
		"max_batch_size: 8\ndynamic_batching: {max_delay: 5}\n":                                      "max_delay",
		"max_batch_size: 8\ndynamic_batching: {preferred_batch_sizes: [2, 8]}\nmax_queue_size: 64\n": "",
	} {
		_, err := readConfigText(t, yaml)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", yaml, err, want)
		}
	}
	// `dynamic_batching: {}` turns batching on with nothing but the
	// top-level bound; an empty `dynamic_batching:` leaves it off.
	for yaml, on := range map[string]bool{
		"max_batch_size: 8\ndynamic_batching: {}\n": true,
		"max_batch_size: 8\ndynamic_batching:\n":    false,
	} {
		c, err := readConfigText(t, yaml)
		if err != nil || (c.DynamicBatching != nil) != on || c.MaxBatchSize != 8 {
			t.Errorf("%q: %+v, %v; want max_batch_size 8 and batching %v", yaml, c, err, on)
		}
	}
}

func readConfigText(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return ReadConfig(path)
}

// TestDynamicBatchingNeedsMaxBatchSize: a Config built in code meets the
// rules ReadConfig applies, so no batcher runs without a bound.
func TestDynamicBatchingNeedsMaxBatchSize(t *testing.T) {
	_, err := LoadModel("test", "1", "../models/iris/1/model.onnx", &Config{DynamicBatching: &DynamicBatching{}}, LoadOptions{})
	if !errors.Is(err, ErrBadModel) || !strings.Contains(err.Error(), "dynamic_batching needs a top-level max_batch_size") {
		t.Fatalf("%v, want an ErrBadModel asking for a top-level max_batch_size", err)
	}
}

// TestShippedConfigs: the configs in models/ load as they are.
func TestShippedConfigs(t *testing.T) {
	paths, err := filepath.Glob("../models/*/config.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shipped configs: %v", err)
	}
	for _, p := range paths {
		if _, err := ReadConfig(p); err != nil {
			t.Error(err)
		}
	}
}

// slowRows is a batch of testdata/slow.onnx (256 chained MatMuls by the
// identity, so y = x exactly) whose whole run takes seconds on one core;
// the merged runs below split it between their members.
const slowRows = 8192

// slowInput is rows of the slow model's input, each element a small
// integer (exact in float32) that tells rows and requests apart.
func slowInput(rows, seed int) tensor.Tensor {
	x := make([]float32, rows*256)
	for i := range x {
		x[i] = float32((seed*7919 + i) % 65536)
	}
	return tensor.Tensor{DType: tensor.Float32, Shape: []int64{int64(rows), 256}, Data: x}
}

// sameRows fails unless out is in, element for element, as y = x says.
func sameRows(in tensor.Tensor, outs []tensor.Tensor) error {
	if len(outs) != 1 || !slices.Equal(outs[0].Shape, in.Shape) {
		return fmt.Errorf("outputs %v, want one of shape %v", outs, in.Shape)
	}
	want, got := in.Data.([]float32), outs[0].Data.([]float32)
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("y[%d] = %v, want x[%d] = %v", i, got[i], i, want[i])
		}
	}
	return nil
}

// TestBatcherMembersLeave pins what a merged run does when the contexts of
// its members end while it runs: a member that leaves is answered at once
// with its context's error and never gets rows; the run goes on for the
// others, who get their own rows exactly (y = x); once every member has
// left, the run is stopped (ORT's terminate) and its run slot is free long
// before a whole run could have ended. "At once" and "long before" are
// against a whole run of the same rows on this machine now, never a fixed
// time. The request's Stats are its own goroutine's to write: one that
// left says no run served it, and nothing writes them after (the race
// detector would see it). The two requests are queued while the test
// holds the only run slot, so that they meet in one merged run.
func TestBatcherMembersLeave(t *testing.T) {
	m, log := observedModel(t, "testdata/slow.onnx", Config{MaxBatchSize: slowRows, DynamicBatching: &DynamicBatching{}})
	begin := time.Now()
	if _, err := m.Infer(t.Context(), []tensor.Tensor{slowInput(slowRows, 0)}); err != nil {
		t.Fatal(err)
	}
	whole := time.Since(begin)
	for _, tc := range []struct {
		name  string
		leave [2]bool // which members' contexts end during the run
		runs  string  // as the Observer saw them: one of both members, stopped when both left
	}{
		{"one of two leaves", [2]bool{true, false}, fmt.Sprintf("2/%d", slowRows)},
		{"both leave", [2]bool{true, true}, fmt.Sprintf("a run without its time, or failed: 2/%d", slowRows)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.reset()
			type answer struct {
				outs  []tensor.Tensor
				err   error
				at    time.Time
				stats Stats // as the request's goroutine reads them once answered
			}
			var (
				inputs  [2]tensor.Tensor
				cancels [2]context.CancelFunc
				answers [2]chan answer
				stats   [2]Stats
			)
			m.limiter.Acquire(t.Context())
			for i := range 2 {
				inputs[i], answers[i] = slowInput(slowRows/2, i+1), make(chan answer, 1)
				ctx, cancel := context.WithCancel(t.Context())
				cancels[i] = cancel
				defer cancel()
				go func() {
					outs, err := m.Infer(WithStats(ctx, &stats[i]), []tensor.Tensor{inputs[i]})
					answers[i] <- answer{outs, err, time.Now(), stats[i]}
				}()
				waitQueued(t, m.batcher, i+1)
			}
			m.limiter.Release()
			waitQueued(t, m.batcher, 0) // both taken into the merged run
			left := time.Now()
			for i, leave := range tc.leave {
				if leave {
					cancels[i]()
				}
			}
			for i, leave := range tc.leave {
				a := <-answers[i]
				switch {
				case leave && (!errors.Is(a.err, context.Canceled) || a.outs != nil):
					t.Errorf("member %d, gone: %v with %d outputs, want its context's error and no rows", i, a.err, len(a.outs))
				case leave && a.at.Sub(left) > whole/3:
					t.Errorf("member %d was answered %v after it left, and a whole run takes %v: it waited for the run", i, a.at.Sub(left), whole)
				case leave && a.stats.Run != (Run{}):
					t.Errorf("member %d, gone: stats say run %+v served it", i, a.stats.Run)
				case !leave && (a.stats.Run.Requests != 2 || a.stats.Run.Rows != slowRows || a.stats.Run.Infer <= 0):
					t.Errorf("member %d, staying: stats say run %+v, want the merged run of 2 requests and %d rows", i, a.stats.Run, slowRows)
				case !leave && a.err != nil:
					t.Errorf("member %d, staying: %v", i, a.err)
				case !leave:
					if err := sameRows(inputs[i], a.outs); err != nil {
						t.Errorf("member %d, staying: %v", i, err)
					}
				}
			}
			if tc.leave == [2]bool{true, true} {
				// The stopped run gives its slot back.
				begin := time.Now()
				m.limiter.Acquire(t.Context())
				m.limiter.Release()
				if waited := time.Since(begin); waited > whole/3 {
					t.Errorf("the slot was free %v after every member left, and a whole run takes %v: the run went on", waited, whole)
				}
			}
			if got := log.String(); got != tc.runs {
				t.Errorf("runs (requests/rows): %q, want %q", got, tc.runs)
			}
		})
	}
	// The model serves on.
	if outs, err := m.Infer(t.Context(), []tensor.Tensor{slowInput(1, 9)}); err != nil || sameRows(slowInput(1, 9), outs) != nil {
		t.Errorf("a request after: %v", err)
	}
}
