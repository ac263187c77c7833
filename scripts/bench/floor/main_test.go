package main

import (
	"math"
	"path/filepath"
	goruntime "runtime"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	onnxruntime "github.com/onnxserve/onnxserve/runtime"
)

// TestRunnerBatches pins that the /ort route runs the batch it is asked
// for: bindings made for one batch leave the model's dynamic dims as they
// were for the next (they were once changed in place, so that every batch
// after the first ran the first's rows), and a run fills every row of its
// outputs. logits.onnx's probabilities are the softmax of its logits, so
// each row of them sums to 1.
func TestRunnerBatches(t *testing.T) {
	// The server's own lookup ($ORT_LIB, else scripts/setup-ort.sh's
	// copy) and start, with its version check, in the test only: the
	// floor binary uses none of onnxserve.
	lib, err := onnxruntime.FindLibrary(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnxruntime.Init(lib); err != nil {
		t.Fatal(err)
	}
	defer ort.DestroyEnvironment()
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(1)) // one binding per batch
	r, err := newRunner(filepath.Join("..", "..", "..", "runtime", "testdata", "logits.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 4, 2} {
		if err := r.run(batch); err != nil {
			t.Fatal(err)
		}
		if d := r.inputs[0].Dimensions; d[0] != -1 {
			t.Fatalf("after batch %d the input's dims are %v, want dim 0 dynamic", batch, d)
		}
		// This batch's binding: x, logits, probabilities, the last made.
		vals := r.values[len(r.values)-3:]
		for _, v := range vals {
			if s := v.GetShape(); s[0] != int64(batch) {
				t.Fatalf("batch %d bound a %v tensor", batch, s)
			}
		}
		probs := vals[2].(*ort.Tensor[float32]).GetData()
		for row := range batch {
			sum := 0.0
			for _, p := range probs[3*row : 3*row+3] {
				sum += float64(p)
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Errorf("batch %d row %d: probabilities sum to %v, want 1 (softmax)", batch, row, sum)
			}
		}
	}
}
