package runtime

import (
	"context"
	"log/slog"
	"slices"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// An outputPlan says how to preallocate one output for a run. Preallocating
// saves ORT's output copy, and it is the only way to receive float16,
// bfloat16 and rank-0 outputs from onnxruntime_go v1.27.0, whose own
// allocation leaves a typed-nil value for them.
type outputPlan struct {
	mode planMode
	// dims is the full shape for planFixed, the dims after dim 0 for planBatch.
	dims []int64
}

type planMode int

const (
	planDynamic planMode = iota // let ORT allocate
	planFixed                   // every dim is known
	planBatch                   // dim 0 is the request's batch, the rest known
)

func (p outputPlan) shape(batch int) ([]int64, bool) {
	switch p.mode {
	case planFixed:
		return p.dims, true
	case planBatch:
		if batch <= 0 {
			return nil, false
		}
		return append([]int64{int64(batch)}, p.dims...), true
	}
	return nil, false
}

// mustPreallocate is true for outputs ORT cannot allocate through the wrapper.
func mustPreallocate(s tensor.TensorSpec) bool {
	return len(s.Shape) == 0 || s.DType == tensor.Float16 || s.DType == tensor.BFloat16
}

// planOutputs proposes a plan from the declared shapes, then proves it with
// warm-up runs at batch 1 and 2: a declared [-1, 3] output is only treated
// as [batch, 3] when ORT actually returns [1, 3] and [2, 3]. The warm-up
// also pays the first-run cost before traffic arrives.
func (m *Model) planOutputs(log *slog.Logger) {
	proposed := make([]outputPlan, len(m.Signature.Outputs))
	for i, s := range m.Signature.Outputs {
		switch {
		case s.DType == tensor.MapSequence || s.DType == tensor.String:
		case !slices.Contains(s.Shape, -1):
			proposed[i] = outputPlan{planFixed, s.Shape}
		case m.batchInput >= 0 && s.Shape[0] == -1 && !slices.Contains(s.Shape[1:], -1):
			proposed[i] = outputPlan{planBatch, s.Shape[1:]}
		}
	}
	// Warm up letting ORT allocate whatever it can, and compare the shapes
	// it chose with the proposal.
	probe := make([]outputPlan, len(proposed))
	for i, s := range m.Signature.Outputs {
		if mustPreallocate(s) {
			probe[i] = proposed[i]
		}
	}
	m.outputs = probe
	for _, batch := range m.planBatches() {
		outs, err := m.run(context.Background(), m.whole(), zeroInputs(m.Signature.Inputs, batch), probe, batch, nil, nil)
		if err != nil {
			log.Warn("warm-up run failed; outputs will be allocated by ONNX Runtime",
				"model", m.Name, "version", m.Version, "batch", batch, "err", err)
			return
		}
		for i, t := range outs {
			if want, ok := proposed[i].shape(batch); ok && !slices.Equal(want, t.Shape) {
				proposed[i] = probe[i]
			}
		}
	}
	m.outputs = proposed
}

// planBatches are the batches planOutputs proves its plan at. Without a
// batch input, zeroInputs makes the same inputs at every batch, so a second
// run would prove nothing: for a 1024×1024 image model it is a whole
// second inference at every load.
func (m *Model) planBatches() []int {
	if m.batchInput < 0 {
		return []int{1}
	}
	return []int{1, 2}
}

// zeroInputs builds inputs of zeros (empty strings) with dynamic dims set to
// batch for dim 0 of the batch input and to 1 elsewhere.
func zeroInputs(specs []tensor.TensorSpec, batch int) []tensor.Tensor {
	ts := make([]tensor.Tensor, len(specs))
	for i, s := range specs {
		shape := slices.Clone(s.Shape)
		for d := range shape {
			if shape[d] == -1 {
				shape[d] = 1
				if d == 0 {
					shape[d] = int64(batch)
				}
			}
		}
		ts[i] = tensor.Tensor{DType: s.DType, Shape: shape, Data: tensor.NewBuffer(s.DType, tensor.NumElements(shape))}
	}
	return ts
}
