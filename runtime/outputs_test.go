package runtime

import (
	"errors"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestWholeGraphRuns pins why a request's outputs select what is returned
// and not what is computed (handlers/inference selectOutputs): ONNX
// Runtime's inference builds run every node of the graph whatever outputs
// a run fetches, even through an IoBinding of one output
// (microsoft/onnxruntime#16483; RunOptions' only_execute_path_to_fetches
// is for training builds, #16013). The branches test model
// (scripts/export_models.py) has ok = x*2 and picky = [10, 20, 30][int(x)]
// on branches that share nothing; a run binding ok alone, on an x that
// picky's Gather refuses, is still refused. If an ONNX Runtime upgrade
// makes this fail, runs can be limited to the outputs asked for (issue 14
// §3): the core knows them (Request.Outputs) and can pass them down.
func TestWholeGraphRuns(t *testing.T) {
	m, err := LoadModel("branches", "1", "testdata/branches.onnx", nil, LoadOptions{Limiter: NewLimiter(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	exp := readExpected(t, "testdata/branches.expected.json")
	// x = 0, 0.25, ..., 11.75: picky's Gather refuses every x of 3 or more.
	refused := tensor.Tensor{DType: tensor.Float32, Shape: []int64{3, 16}, Data: make([]float32, 48)}
	for i := range refused.Data.([]float32) {
		refused.Data.([]float32)[i] = float32(i) / 4
	}
	bound := func(x tensor.Tensor) (tensor.Tensor, error) {
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
		if err := b.BindOutput("ok", out); err != nil {
			t.Fatal(err)
		}
		if err := m.session.RunWithBinding(b); err != nil {
			return tensor.Tensor{}, err
		}
		return fromValue(tensor.Float32, out)
	}
	// The binding works: with x under 3, ok alone is numpy's.
	ok, err := bound(testTensor(t, tensor.Float32, exp.Cases[0].Inputs["x"]))
	if err != nil {
		t.Fatalf("ok alone, x under 3: %v", err)
	}
	compareOutput(t, "ok alone", ok, exp.Cases[0].Outputs["ok"], exp.Atol)
	// With x up to 11.75, the unfetched picky fails the run.
	if _, err = bound(refused); err == nil || rejection(m.Name, err) == nil {
		t.Errorf("ok alone, x up to 11.75: %v; want picky's Gather to have run and refused x, as ONNX Runtime runs every node", err)
	}
	// And so through Infer: every output is computed, the request refused.
	var rj *RejectedError
	if _, err := m.Infer(t.Context(), []tensor.Tensor{refused}); !errors.As(err, &rj) {
		t.Errorf("Infer, x up to 11.75: %v, want picky's Gather refused", err)
	}
}
