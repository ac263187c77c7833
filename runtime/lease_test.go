package runtime

import (
	"context"
	"fmt"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestLeaseHeld pins what a lease promises: a leased run's outputs are
// the binding's own memory (no copy), no other run writes them while the
// lease is held (a second run of the same shapes gets another binding),
// Release puts the binding back for the next run, a second Release does
// nothing, and a run that fails holds nothing.
func TestLeaseHeld(t *testing.T) {
	m := loadSum(t, 2)
	in1, want1 := rowsOf(0, 3, 4)
	in2, want2 := rowsOf(1000, 3, 4)
	outs1, lease1, err := m.InferLeased(t.Context(), []tensor.Tensor{in1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	outs2, lease2, err := m.InferLeased(t.Context(), []tensor.Tensor{in2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got1, got2 := outs1[0].Data.([]float32), outs2[0].Data.([]float32)
	if fmt.Sprint(got1) != fmt.Sprint(want1) || fmt.Sprint(got2) != fmt.Sprint(want2) {
		t.Errorf("held outputs %v and %v, want %v and %v", got1, got2, want1, want2)
	}
	if &got1[0] == &got2[0] {
		t.Fatal("two leases hold the same output memory")
	}
	if n, _ := m.bindings.count(); n != 0 {
		t.Errorf("%d idle bindings while both are leased, want 0", n)
	}
	lease1.Release()
	lease1.Release()
	if n, _ := m.bindings.count(); n != 1 {
		t.Errorf("%d idle bindings after one release (twice), want 1", n)
	}
	// The next run takes the released binding, and writes its memory.
	in3, want3 := rowsOf(2000, 3, 4)
	outs3, lease3, err := m.InferLeased(t.Context(), []tensor.Tensor{in3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got3 := outs3[0].Data.([]float32)
	if &got3[0] != &got1[0] || fmt.Sprint(got3) != fmt.Sprint(want3) {
		t.Errorf("run after release: %v at %p, want %v in the released binding's %p", got3, &got3[0], want3, &got1[0])
	}
	if fmt.Sprint(got2) != fmt.Sprint(want2) {
		t.Errorf("a held lease's outputs changed under other runs: %v, want %v", got2, want2)
	}
	lease2.Release()
	lease3.Release()
	if n, _ := m.bindings.count(); n != 2 {
		t.Errorf("%d idle bindings after every release, want 2", n)
	}
	// A run whose context has ended fails either waiting for its slot or,
	// with a binding taken, just before ORT's run (the limiter picks
	// either at random when both are ready): neither holds anything.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 20 {
		if _, lease, err := m.InferLeased(ctx, []tensor.Tensor{in1}, nil); err == nil || lease.b != nil {
			t.Fatalf("a cancelled run: error %v, lease %+v; want an error and nothing held", err, lease)
		}
	}
	if n, _ := m.bindings.count(); n != 2 {
		t.Errorf("%d idle bindings after failed runs, want 2", n)
	}
}

// TestLeaseAfterClose pins that a lease may outlive its model: its outputs
// stay readable (Go memory) and its Release destroys the binding rather
// than returning it to the closed pool. The front ends release before the
// model is released, so this is for a caller that does not: ORT's
// IoBinding, released after its session, touches none of it (this test's
// finding; ORT's docs promise nothing either way).
func TestLeaseAfterClose(t *testing.T) {
	m, err := LoadModel("sum", "1", "testdata/sum.onnx", nil, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in, want := rowsOf(7, 2, 4)
	outs, lease, err := m.InferLeased(t.Context(), []tensor.Tensor{in}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if got := outs[0].Data.([]float32); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outputs after close: %v, want %v", got, want)
	}
	lease.Release()
	if n, _ := m.bindings.count(); n != 0 {
		t.Errorf("%d idle bindings in a closed model's pool, want 0", n)
	}
}
