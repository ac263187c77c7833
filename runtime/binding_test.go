package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// rowsOf is a [rows, n] input of x[r][c] = seed + r*n + c (small integers,
// which float32 sums exactly) and the sum of each row, by the formula
// n*(seed + r*n) + n*(n-1)/2.
func rowsOf(seed, rows, n int) (tensor.Tensor, []float32) {
	x := make([]float32, rows*n)
	sums := make([]float32, rows)
	for r := range rows {
		for c := range n {
			x[r*n+c] = float32(seed + r*n + c)
		}
		sums[r] = float32(n*(seed+r*n) + n*(n-1)/2)
	}
	return tensor.Tensor{DType: tensor.Float32, Shape: []int64{int64(rows), int64(n)}, Data: x}, sums
}

func loadSum(t *testing.T, slots int) *Model {
	t.Helper()
	m, err := LoadModel("sum", "1", "testdata/sum.onnx", nil, LoadOptions{Limiter: NewLimiter(slots)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func (p *bindings) count() (n int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle), p.bytes
}

// TestBindingsReused pins that runs of one shape reuse one binding, that
// what a run returns is its own (a later run on the same binding does not
// change it), and that each shape has its own binding.
func TestBindingsReused(t *testing.T) {
	m := loadSum(t, 1)
	type run struct {
		got  tensor.Tensor
		want []float32
	}
	var runs []run
	for seed := range 20 {
		for _, rows := range []int{1, 3} {
			in, want := rowsOf(seed*100, rows, 4)
			outs, err := m.Infer(t.Context(), []tensor.Tensor{in})
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, run{outs[0], want})
		}
	}
	for i, r := range runs {
		if got := r.got.Data.([]float32); fmt.Sprint(got) != fmt.Sprint(r.want) || len(r.got.Shape) != 1 || r.got.Shape[0] != int64(len(r.want)) {
			t.Errorf("run %d: %v %v, want [%d] %v", i, r.got.Shape, got, len(r.want), r.want)
		}
	}
	// [1, 4] and [3, 4], each with its [rows] output: 80 bytes of float32s.
	if n, bytes := m.bindings.count(); n != 2 || bytes != (1*4+1+3*4+3)*4 {
		t.Errorf("%d idle bindings of %d bytes, want 2 ([1,4] and [3,4]) of 80", n, bytes)
	}
}

// TestBindingsConcurrent runs one model from many goroutines at once, each
// with inputs of its own, on as many run slots: every answer must be its
// own request's. Leased runs hold their outputs a while, as an encoder
// would, before they let them go. (ORT writes the outputs from C, which
// the race detector does not see: the values are what tells a shared
// binding.)
func TestBindingsConcurrent(t *testing.T) {
	for _, leased := range []bool{false, true} {
		t.Run(fmt.Sprintf("leased=%v", leased), func(t *testing.T) {
			m := loadSum(t, 4)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 100 {
						in, want := rowsOf(g*1000+i, 1+g%3, 8)
						var outs []tensor.Tensor
						var lease Lease
						var err error
						if leased {
							outs, lease, err = m.InferLeased(t.Context(), []tensor.Tensor{in}, nil)
							time.Sleep(time.Duration(i%3) * 100 * time.Microsecond)
						} else {
							outs, err = m.Infer(t.Context(), []tensor.Tensor{in})
						}
						if err != nil {
							t.Error(err)
							return
						}
						got := fmt.Sprint(outs[0].Data.([]float32))
						lease.Release()
						if got != fmt.Sprint(want) {
							t.Errorf("goroutine %d run %d: %v, want %v", g, i, got, want)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestBindingsBounded pins the bounds on what bindings hold: at most
// maxIdleBindings idle ones, and none for a run of more than
// maxBindingBytes, which runs as without bindings, and answers right.
func TestBindingsBounded(t *testing.T) {
	m := loadSum(t, 1)
	for rows := 1; rows <= 2*maxIdleBindings; rows++ {
		in, _ := rowsOf(rows, rows, 2)
		if _, err := m.Infer(t.Context(), []tensor.Tensor{in}); err != nil {
			t.Fatal(err)
		}
	}
	n, before := m.bindings.count()
	if n != maxIdleBindings {
		t.Errorf("%d idle bindings, want %d", n, maxIdleBindings)
	}
	// [1, 300000] is 1.2 MB of input: not bound.
	big, want := rowsOf(0, 1, 300_000)
	want[0] = 0
	for _, v := range big.Data.([]float32) {
		want[0] += v // float32 as ORT's ReduceSum may round it; compared with a tolerance
	}
	outs, err := m.Infer(t.Context(), []tensor.Tensor{big})
	if err != nil {
		t.Fatal(err)
	}
	if got := outs[0].Data.([]float32)[0]; got < want[0]*(1-1e-4) || got > want[0]*(1+1e-4) {
		t.Errorf("sum of [1, 300000]: %v, want about %v", got, want[0])
	}
	if n, after := m.bindings.count(); n != maxIdleBindings || after != before {
		t.Errorf("after a run over maxBindingBytes: %d idle bindings of %d bytes, want %d of %d", n, after, maxIdleBindings, before)
	}
}

// TestShortRunsWatched pins which runs go unwatched (shortRun): a run
// whose context has ended before it starts is refused even when its
// binding's runs are short (the model has no run slots to wait for, so the
// refusal is the run's own); the run after a long one, or after one that
// failed (it may have been terminated early), is watched, so that a
// deadline stops the slow model's run long before a whole run could end.
func TestShortRunsWatched(t *testing.T) {
	m, err := LoadModel("sum", "1", "testdata/sum.onnx", nil, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in, _ := rowsOf(0, 2, 4)
	for range 3 {
		if _, err := m.Infer(t.Context(), []tensor.Tensor{in}); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := m.bindings.take([]tensor.Tensor{in}, 2); b == nil || !b.short() {
		t.Fatalf("after three runs of [2, 4], binding %v short %v: want a short one", b != nil, b != nil && b.short())
	} else {
		m.bindings.put(b)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var st Stats
	if _, err := m.Infer(WithStats(ctx, &st), []tensor.Tensor{in}); !errors.Is(err, context.Canceled) || !st.Run.Failed {
		t.Errorf("short runs, context cancelled before the run: %v, run failed %v; want context.Canceled from the run", err, st.Run.Failed)
	}

	slow, err := LoadModel("slow", "1", "testdata/slow.onnx", nil, LoadOptions{Limiter: NewLimiter(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// 512 rows of the 256×256 chain: maxBindingBytes bound (input and
	// output), and a run of 8.6 billion multiply-adds, some hundreds of
	// milliseconds: far over shortRun, and over the deadline.
	rows := tensor.Tensor{DType: tensor.Float32, Shape: []int64{512, 256}, Data: make([]float32, 512*256)}
	whole := func() time.Duration {
		begin := time.Now()
		if _, err := slow.Infer(t.Context(), []tensor.Tensor{rows}); err != nil {
			t.Fatal(err)
		}
		return time.Since(begin)
	}
	deadline := func(name string, full time.Duration) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		begin := time.Now()
		_, err := slow.Infer(ctx, []tensor.Tensor{rows})
		// Not a speed check: an unwatched run would end only with the
		// whole run, and then fail on its deadline all the same.
		if took := time.Since(begin); !errors.Is(err, context.DeadlineExceeded) || took > full/2 {
			t.Errorf("%s: %v after %v, a whole run %v; want the run stopped at its deadline", name, err, took, full)
		}
	}
	full := whole() // the binding's first run, watched, and long
	deadline("after a long run", full)
	deadline("after a stopped run", full)
	full = max(full, whole())
	deadline("after a whole long run again", full)
}

// TestBindingsPruned pins that a session over part of the graph (pruned.go)
// recycles its own bindings, which bind only its outputs: on the branches
// model, ok alone is 2·x (the formula) run after run on one binding, the
// other output not computed.
func TestBindingsPruned(t *testing.T) {
	m, err := LoadModel("branches", "1", "testdata/branches.onnx", nil, LoadOptions{Limiter: NewLimiter(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ok := m.Signature.Output("ok")
	waitPruned(t, m, []int{ok})
	for seed := range 10 {
		x := make([]float32, 2*16)
		for i := range x {
			x[i] = float32(seed*100 + i)
		}
		in := tensor.Tensor{DType: tensor.Float32, Shape: []int64{2, 16}, Data: x}
		outs, err := m.InferOutputs(t.Context(), []tensor.Tensor{in}, []int{ok})
		if err != nil {
			t.Fatal(err)
		}
		got := outs[ok].Data.([]float32)
		for i, v := range x {
			if got[i] != 2*v {
				t.Fatalf("run %d: ok[%d] = %v, want 2·%v", seed, i, got[i], v)
			}
		}
		if picky := outs[m.Signature.Output("picky")]; picky.Data != nil {
			t.Fatalf("run %d: picky computed: %v", seed, picky.Data)
		}
	}
	s, _ := m.pruned.session([]int{ok})
	if n, bytes := s.binds.count(); n != 1 || bytes != 2*(2*16*4) {
		t.Errorf("the session of ok: %d idle bindings of %d bytes, want 1 of %d (x and ok)", n, bytes, 2*(2*16*4))
	}
	if n, _ := m.bindings.count(); n != 0 {
		t.Errorf("the whole graph's session: %d idle bindings, want none (no run of it)", n)
	}
}
