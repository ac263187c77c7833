package runtime

import (
	"context"
	"errors"
	"fmt"
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
