package runtime

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// refusedX is an x of the branches test model that picky refuses: 0, 0.25,
// ..., 11.75, over [3, 16], where picky's Gather takes only x under 3.
func refusedX() tensor.Tensor {
	x := make([]float32, 48)
	for i := range x {
		x[i] = float32(i) / 4
	}
	return tensor.Tensor{DType: tensor.Float32, Shape: []int64{3, 16}, Data: x}
}

// checkDoubled fails unless got is 2·x, as branches' ok is.
func checkDoubled(t *testing.T, what string, got, x tensor.Tensor) {
	t.Helper()
	want := x.Data.([]float32)
	vals, ok := got.Data.([]float32)
	if !ok || len(vals) != len(want) || !slices.Equal(got.Shape, x.Shape) {
		t.Fatalf("%s: got %v %v, want float32 %v", what, got.DType, got.Shape, x.Shape)
	}
	for i, v := range vals {
		if v != 2*want[i] {
			t.Fatalf("%s: [%d] = %v, want 2·%v", what, i, v, want[i])
		}
	}
}

// TestOutputsComputed: a request's outputs select what is computed. ONNX
// Runtime's inference builds run every node of a session's graph whatever
// a run fetches, even through an IoBinding of one output
// (microsoft/onnxruntime#16483; RunOptions' only_execute_path_to_fetches
// is for training builds, #16013), so a request for some outputs runs on
// a session over the part of the graph they need (pruned.go). The branches
// test model (scripts/export_models.py) has ok = x*2 and picky = [10, 20,
// 30][int(x)] on branches that share nothing: on an x picky refuses, ok
// alone is answered from the first request on, and picky, alone or with
// ok, is still refused.
func TestOutputsComputed(t *testing.T) {
	m, err := LoadModel("branches", "1", "testdata/branches.onnx", nil, LoadOptions{Limiter: NewLimiter(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := refusedX()
	ok, picky := m.Signature.Output("ok"), m.Signature.Output("picky")

	// The whole graph's session still runs every node: a binding of ok
	// alone is refused by picky's Gather. Were it not (an ONNX Runtime
	// upgrade), sessions per output set would no longer be needed.
	if _, err := bindOne(t, m, "ok", x); err == nil || rejection(m.Name, err) == nil {
		t.Errorf("the whole graph, ok bound alone: %v; want picky's Gather to have run and refused x", err)
	}

	// The first request for ok alone runs on the whole graph, which
	// refuses it, and then on ok's own session once made; later ones
	// on that session at once.
	for i := range 2 {
		outs, err := m.InferOutputs(t.Context(), []tensor.Tensor{x}, []int{ok})
		if err != nil {
			t.Fatalf("request %d for ok alone: %v", i+1, err)
		}
		checkDoubled(t, "ok", outs[ok], x)
		if outs[picky].Data != nil {
			t.Errorf("request %d for ok alone: picky computed too (%v)", i+1, outs[picky].Shape)
		}
	}
	for _, outputs := range [][]int{{picky}, {ok, picky}, {picky, ok}, nil} {
		var rj *RejectedError
		if _, err := m.InferOutputs(t.Context(), []tensor.Tensor{x}, outputs); !errors.As(err, &rj) {
			t.Errorf("outputs %v: %v, want picky's Gather refusing x", outputs, err)
		}
	}
	var rj *RejectedError
	if _, err := m.Infer(t.Context(), []tensor.Tensor{x}); !errors.As(err, &rj) {
		t.Errorf("Infer: %v, want picky's Gather refusing x", err)
	}
	// picky's session was made too (its requests were refused on it), and
	// ok with picky is the whole graph: two sessions in all.
	if n := made(m); n != 2 {
		t.Errorf("%d sessions of part of the graph, want 2 (ok's, picky's)", n)
	}
	// An x picky takes is answered by both, on their own sessions and on
	// the whole graph alike: numpy's values.
	exp := readExpected(t, "testdata/branches.expected.json")
	in := testTensor(t, tensor.Float32, exp.Cases[0].Inputs["x"])
	for _, outputs := range [][]int{{ok}, {picky}, {picky, ok}} {
		outs, err := m.InferOutputs(t.Context(), []tensor.Tensor{in}, outputs)
		if err != nil {
			t.Fatalf("outputs %v: %v", outputs, err)
		}
		for _, i := range outputs {
			name := m.Signature.Outputs[i].Name
			compareOutput(t, name, outs[i], exp.Cases[0].Outputs[name], exp.Atol)
		}
	}
}

// bindOne runs x on the model's whole-graph session with only output
// name bound, through an IoBinding.
func bindOne(t *testing.T, m *Model, name string, x tensor.Tensor) (tensor.Tensor, error) {
	in, err := toValue(x)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	out, err := newOutput(tensor.Float32, x.Shape)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Destroy()
	b, err := m.session.CreateIoBinding()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy()
	if err := b.BindInput("x", in); err != nil {
		t.Fatal(err)
	}
	if err := b.BindOutput(name, out); err != nil {
		t.Fatal(err)
	}
	if err := m.session.RunWithBinding(b); err != nil {
		return tensor.Tensor{}, err
	}
	return fromValue(tensor.Float32, out)
}

// TestPrunedSubgraphs: a session cut down to an If's output keeps what the
// If's branches read of the outer graph (shift, big, scale in the scoped
// test model, big and scale only inside a nested If), and answers numpy's
// values in every branch; one cut down to plain answers it alone.
func TestPrunedSubgraphs(t *testing.T) {
	var logs syncBuffer
	m, err := LoadModel("scoped", "1", "testdata/scoped.onnx", nil, LoadOptions{Limiter: NewLimiter(1),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	exp := readExpected(t, "testdata/scoped.expected.json")
	for _, name := range []string{"branched", "plain"} {
		i := m.Signature.Output(name)
		waitPruned(t, m, []int{i})
		for c, tc := range exp.Cases {
			outs, err := m.InferOutputs(t.Context(), []tensor.Tensor{testTensor(t, tensor.Float32, tc.Inputs["x"])}, []int{i})
			if err != nil {
				t.Fatalf("%s, case %d: %v", name, c, err)
			}
			compareOutput(t, name, outs[i], tc.Outputs[name], exp.Atol)
			if other := outs[1-i]; other.Data != nil {
				t.Errorf("%s, case %d: the other output computed too", name, c)
			}
		}
	}
	for _, line := range []string{"outputs=[branched] nodes_kept=5 nodes=6", "outputs=[plain] nodes_kept=1 nodes=6"} {
		if !strings.Contains(logs.String(), `msg="session for outputs made" model=scoped version=1 `+line) {
			t.Errorf("no log line of the session %s made:\n%s", line, logs.String())
		}
	}
}

// waitPruned makes the session of outputs and waits until it is made.
func waitPruned(t *testing.T, m *Model, outputs []int) {
	t.Helper()
	if _, ok := m.pruned.session(outputs); ok {
		return
	}
	if _, ok := m.pruned.wait(t.Context(), outputs); !ok {
		t.Fatalf("no session made for outputs %v", outputs)
	}
}

// made is how many sessions of part of the graph m has made.
func made(m *Model) int {
	if m.pruned == nil {
		return 0
	}
	n := 0
	for _, e := range *m.pruned.sets.Load() {
		if e.s.Load() != nil {
			n++
		}
	}
	return n
}

// TestPrunedBound: pruned_sessions bounds the sessions made, past which
// the whole graph serves (right values, every output computed); 0 makes
// none, so picky's refusal reaches a request for ok alone again. Close
// waits for a session being made and destroys them all.
func TestPrunedBound(t *testing.T) {
	one := 1
	m, err := LoadModel("tabular", "1", "../models/tabular/model.onnx", &Config{PrunedSessions: &one}, LoadOptions{Limiter: NewLimiter(2)})
	if err != nil {
		t.Fatal(err)
	}
	exp := readExpected(t, "../models/tabular/expected.json")
	inputs := func() []tensor.Tensor {
		ins := make([]tensor.Tensor, len(m.Signature.Inputs))
		for i, in := range m.Signature.Inputs {
			ins[i] = testTensor(t, in.DType, exp.Cases[0].Inputs[in.Name])
		}
		return ins
	}
	score, flag, bucket := m.Signature.Output("score"), m.Signature.Output("flag"), m.Signature.Output("bucket")
	waitPruned(t, m, []int{score})
	for _, outputs := range [][]int{{score}, {flag}, {bucket, score}} {
		outs, err := m.InferOutputs(t.Context(), inputs(), outputs)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range outputs {
			name := m.Signature.Outputs[i].Name
			compareOutput(t, name, outs[i], exp.Cases[0].Outputs[name], exp.Atol)
		}
		if computed := outs[flag].Data != nil; computed != (outputs[0] != score) {
			t.Errorf("outputs %v: flag computed %v; past the bound of 1 the whole graph serves", outputs, computed)
		}
	}
	if _, ok := m.pruned.wait(t.Context(), []int{flag}); ok || made(m) != 1 {
		t.Errorf("%d sessions made with pruned_sessions 1 (flag's: %v)", made(m), ok)
	}
	held := (*m.pruned.sets.Load())
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, e := range held {
		// A destroyed session has no inputs left (onnxruntime_go frees
		// their names), which Run checks before anything else.
		if err := e.s.Load().ort.RunWithOptions([]ort.Value{nil, nil}, nil, nil); err == nil || !strings.Contains(err.Error(), "specified 0 input names") {
			t.Errorf("a session of part of the graph not destroyed by Close: %v", err)
		}
	}

	zero := 0
	m, err = LoadModel("branches", "1", "testdata/branches.onnx", &Config{PrunedSessions: &zero}, LoadOptions{Limiter: NewLimiter(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var rj *RejectedError
	if _, err := m.InferOutputs(t.Context(), []tensor.Tensor{refusedX()}, []int{m.Signature.Output("ok")}); !errors.As(err, &rj) || m.pruned != nil {
		t.Errorf("pruned_sessions 0, ok alone: %v (pruner %v); want the whole graph refusing x", err, m.pruned != nil)
	}
}

// TestPrunedClose: Close waits for the sessions being made, which are then
// destroyed with the others; requests for many output sets at once start

// TestPrunedWholeSets pins that a set of outputs that needs every node
// (tabular's flag and bucket between them read all nine) is remembered as
// one, with no session, so that its requests do not work it out again,
// and does not count toward pruned_sessions: a set after it still gets
// its session. The remembered sets are bounded by maxWholeSets.
func TestPrunedWholeSets(t *testing.T) {
	one := 1
	m, err := LoadModel("tabular", "1", "../models/tabular/model.onnx", &Config{PrunedSessions: &one}, LoadOptions{Limiter: NewLimiter(2)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	score, flag, bucket := m.Signature.Output("score"), m.Signature.Output("flag"), m.Signature.Output("bucket")
	if m.pruned.needs[flag].Union(m.pruned.needs[bucket]).Len() != m.pruned.nodes {
		t.Fatalf("flag and bucket need %d of %d nodes: the test needs a set that reads them all",
			m.pruned.needs[flag].Union(m.pruned.needs[bucket]).Len(), m.pruned.nodes)
	}
	if _, ok := m.pruned.session([]int{flag, bucket}); ok {
		t.Fatal("a session for flag and bucket, which need every node")
	}
	p := m.pruned
	p.mu.Lock()
	sessions, wholes := p.sessions, p.wholes
	p.mu.Unlock()
	if e, ok := (*p.sets.Load())[string([]byte{1<<flag | 1<<bucket})]; !ok || e.s.Load() != nil || sessions != 0 || wholes != 1 {
		t.Errorf("flag and bucket: remembered %v, %d sessions and %d whole sets; want remembered with no session, 0 and 1", ok, sessions, wholes)
	}
	waitPruned(t, m, []int{score})
	if made(m) != 1 {
		t.Errorf("%d sessions made after a whole set, want score's", made(m))
	}
}

// one build each.
func TestPrunedClose(t *testing.T) {
	var logs syncBuffer
	m, err := LoadModel("tabular", "1", "../models/tabular/model.onnx", nil, LoadOptions{Limiter: NewLimiter(2),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, outputs := range [][]int{{0}, {1}, {2}, {0, 1}, {1, 0}} {
				m.pruned.session(outputs)
			}
		})
	}
	wg.Wait()
	// Each of score, flag, bucket and score with flag leaves a node out
	// (bucket needs all but flag's Greater): four sets ({1, 0} is {0, 1}),
	// the default bound, none of them made yet, most likely.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "session for outputs made"); n != DefaultPrunedSessions {
		t.Errorf("%d sessions made by the time Close returned, want %d:\n%s", n, DefaultPrunedSessions, logs.String())
	}
}

// syncBuffer is a bytes.Buffer that the builds' goroutines may log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPrunedBatched: with dynamic batching, requests asking for different
// outputs may share a merged run, which computes every output; one that
// the merged run's refusal reaches runs again alone, on its own outputs'
// session, so ok alone is answered on an x picky refuses whether its
// request was merged or not, and picky on an x it takes.
func TestPrunedBatched(t *testing.T) {
	// The first request waits up to 100 ms for rows to merge with: the
	// second is queued by then.
	cfg := &Config{MaxBatchSize: 8, DynamicBatching: &DynamicBatching{MaxQueueDelayUS: 100_000}}
	var runs mergedRuns
	m, err := LoadModel("branches", "1", "testdata/branches.onnx", cfg, LoadOptions{Limiter: NewLimiter(1), Observer: &runs})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ok, picky := m.Signature.Output("ok"), m.Signature.Output("picky")
	exp := readExpected(t, "testdata/branches.expected.json")
	taken := testTensor(t, tensor.Float32, exp.Cases[0].Inputs["x"])
	for round := range 3 {
		var wg sync.WaitGroup
		x := refusedX()
		wg.Go(func() {
			outs, err := m.InferOutputs(t.Context(), []tensor.Tensor{x}, []int{ok})
			if err != nil {
				t.Errorf("round %d, ok alone: %v", round, err)
				return
			}
			checkDoubled(t, "ok", outs[ok], x)
		})
		wg.Go(func() {
			outs, err := m.InferOutputs(t.Context(), []tensor.Tensor{taken}, []int{picky})
			if err != nil {
				t.Errorf("round %d, picky alone: %v", round, err)
				return
			}
			compareOutput(t, "picky", outs[picky], exp.Cases[0].Outputs["picky"], exp.Atol)
		})
		wg.Wait()
	}
	if n := runs.merged.Load(); n < 3 {
		t.Errorf("%d merged runs in 3 rounds: the requests were not merged", n)
	}
}

// mergedRuns counts the runs that served more than one request.
type mergedRuns struct{ merged atomic.Int64 }

func (r *mergedRuns) Ran(_ *Model, run Run) {
	if run.Requests > 1 {
		r.merged.Add(1)
	}
}

// TestPrunedFileChanged: a session of part of the graph is made from the
// model file read again, and not once the file is no longer the one that
// loaded: the whole graph serves, saying why.
func TestPrunedFileChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.onnx")
	copyTo := func(src string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyTo("testdata/branches.onnx")
	var logs syncBuffer
	m, err := LoadModel("branches", "1", path, nil, LoadOptions{Limiter: NewLimiter(1), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	copyTo("testdata/scoped.onnx")
	var rj *RejectedError
	if _, err := m.InferOutputs(t.Context(), []tensor.Tensor{refusedX()}, []int{m.Signature.Output("ok")}); !errors.As(err, &rj) {
		t.Errorf("ok alone, the file changed: %v, want the whole graph refusing x", err)
	}
	if want := `msg="session for outputs not made: the whole graph computes them" model=branches version=1 outputs=[ok] err="the model file changed since it loaded"`; !strings.Contains(logs.String(), want) {
		t.Errorf("log:\n%s\nwant a line with %s", logs.String(), want)
	}
}

// TestInferOutputsMatchesExport: every output asked for alone, on its own
// session, is numpy's value at export, over models whose outputs stand on
// parts of their graphs: inputs the part does not read (dtypes), float16,
// bfloat16 and a rank-0 output, which need preallocating (half), a ZipMap
// (zipmap), string outputs (strings), shared trunks (iris, tabular), an
// If (scoped). The outputs not asked for are not computed.
func TestInferOutputsMatchesExport(t *testing.T) {
	for _, c := range []struct{ model, expected string }{
		{"testdata/dtypes.onnx", "testdata/dtypes.expected.json"},
		{"testdata/half.onnx", "testdata/half.expected.json"},
		{"testdata/zipmap.onnx", "testdata/zipmap.expected.json"},
		{"testdata/strings.onnx", "testdata/strings.expected.json"},
		{"testdata/scoped.onnx", "testdata/scoped.expected.json"},
		{"../models/iris/1/model.onnx", "../models/iris/1/expected.json"},
		{"../models/tabular/model.onnx", "../models/tabular/expected.json"},
	} {
		t.Run(filepath.Base(c.model), func(t *testing.T) {
			many := 16 // dtypes has 12 outputs, each on its own session
			m, err := LoadModel("test", "1", c.model, &Config{PrunedSessions: &many}, LoadOptions{Limiter: NewLimiter(2)})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			exp := readExpected(t, c.expected)
			for i, spec := range m.Signature.Outputs {
				waitPruned(t, m, []int{i})
				for ci, cs := range exp.Cases {
					ins := make([]tensor.Tensor, len(m.Signature.Inputs))
					for j, in := range m.Signature.Inputs {
						ins[j] = testTensor(t, in.DType, cs.Inputs[in.Name])
					}
					outs, err := m.InferOutputs(t.Context(), ins, []int{i})
					if err != nil {
						t.Fatalf("%s alone, case %d: %v", spec.Name, ci, err)
					}
					compareOutput(t, spec.Name, outs[i], cs.Outputs[spec.Name], exp.Atol)
					for j := range outs {
						if j != i && outs[j].Data != nil {
							t.Errorf("%s alone, case %d: %s computed too", spec.Name, ci, m.Signature.Outputs[j].Name)
						}
					}
				}
			}
		})
	}
}
