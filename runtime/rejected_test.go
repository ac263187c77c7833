package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestRejection pins the rule that tells ORT refusing a run's inputs from
// a server fault (rejected.go): a node failing on inputs that fit the
// signature is the inputs' fault, with ORT's reason cut of its source
// location; a node that ran out of memory or device, and anything outside
// a node, is the server's. The first case is ORT's own message, from a
// runErr run of the reshape test model.
func TestRejection(t *testing.T) {
	m, err := LoadModel("reshape", "1", "testdata/reshape.onnx", nil, LoadOptions{Limiter: NewLimiter(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, runErr := m.Infer(context.Background(), []tensor.Tensor{{DType: tensor.Float32, Shape: []int64{1, 48}, Data: make([]float32, 48)}})
	if runErr == nil {
		t.Fatal("48 values reshaped to [-1, 32]: no error")
	}
	var rj *RejectedError
	if !errors.As(runErr, &rj) || rj.Reason != "Reshape node: The input tensor cannot be reshaped to the requested shape. Input shape:{1,48}, requested shape:{-1,32}" {
		t.Errorf("a runErr Reshape refusal: %T %v", runErr, runErr)
	}
	node := "Error running network: Non-zero status code returned while running %s node. Name:'%s' Status Message: %s"
	for _, tc := range []struct {
		name   string
		msg    string
		reason string // "" for a server fault
	}{
		{"a Gather index out of range, named node", fmt.Sprintf(node, "Gather", "lookup", "indices element out of data bounds, idx=7 must be within the inclusive range [-3,2]"),
			"Gather node lookup: indices element out of data bounds, idx=7 must be within the inclusive range [-3,2]"},
		{"a failed ORT_ENFORCE", fmt.Sprintf(node, "Concat", "", "/src/concat.cc:84 Status Concat::PrepareForCompute() inputs_n > 0 was false. Need at least one input"),
			"Concat node: Need at least one input"},
		{"a node out of memory", fmt.Sprintf(node, "MatMul", "mm", "Failed to allocate memory for requested buffer of size 8589934592"), ""},
		{"a node's device failing", fmt.Sprintf(node, "Conv", "c", "CUDA failure 700: an illegal memory access was encountered"), ""},
		{"a failure outside any node", "Error running network: the session has no input named y", ""},
	} {
		r := rejection("m", errors.New(tc.msg))
		switch {
		case tc.reason == "" && r != nil:
			t.Errorf("%s: refused inputs (%q), want a server fault", tc.name, r.Reason)
		case tc.reason != "" && (r == nil || r.Reason != tc.reason):
			t.Errorf("%s: %v, want the reason %q", tc.name, r, tc.reason)
		}
	}
}

// TestBatcherRefusedMember pins that one request's inputs ORT refuses do
// not refuse the requests merged with it: the lookup test model (value =
// [10, 20, 30][index], scripts/export_models.py) refuses index 7, and the
// merged run of three requests, one with it, is refused; each then runs
// alone, and only that one is refused, the others get their values.
func TestBatcherRefusedMember(t *testing.T) {
	m, log := observedModel(t, "testdata/lookup.onnx", Config{MaxBatchSize: 8, DynamicBatching: &DynamicBatching{}})
	requests := []struct {
		index []int64
		want  []float32 // nil: refused
	}{
		{[]int64{1}, []float32{20}},
		{[]int64{7}, nil},
		{[]int64{0, 2}, []float32{10, 30}},
	}
	// Hold the only run slot until every request is queued, so that they
	// meet in one merged run.
	m.limiter.Acquire(t.Context())
	type answer struct {
		outs []tensor.Tensor
		err  error
	}
	answers := make([]chan answer, len(requests))
	for i, r := range requests {
		answers[i] = make(chan answer, 1)
		go func() {
			outs, err := m.Infer(t.Context(), []tensor.Tensor{{DType: tensor.Int64, Shape: []int64{int64(len(r.index))}, Data: r.index}})
			answers[i] <- answer{outs, err}
		}()
	}
	waitQueued(t, m.batcher, len(requests))
	m.limiter.Release()
	for i, r := range requests {
		a := <-answers[i]
		var rj *RejectedError
		switch {
		case r.want == nil && !errors.As(a.err, &rj):
			t.Errorf("request %d (index %v): %v %v, want it refused", i, r.index, a.outs, a.err)
		case r.want != nil && (a.err != nil || fmt.Sprint(a.outs[0].Data) != fmt.Sprint(r.want)):
			t.Errorf("request %d (index %v): %v %v, want %v", i, r.index, a.outs, a.err, r.want)
		}
	}
	// The merged run, refused, then each request alone in the order they
	// were merged, which the scheduler chose: one of them refused.
	const failed = "a run without its time, or failed:"
	log.mu.Lock()
	sizes := slices.Clone(log.sizes)
	log.mu.Unlock()
	if len(sizes) != 6 || sizes[0] != failed || sizes[1] != "3/4" ||
		fmt.Sprint(slices.Sorted(slices.Values(sizes[2:]))) != fmt.Sprint([]string{"1/1", "1/1", "1/2", failed}) {
		t.Errorf("runs (requests/rows): %q; want the merged run of 3/4 refused, then 1/1, 1/2 and a refused 1/1 alone", sizes)
	}
}
