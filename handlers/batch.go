package handlers

import "github.com/onnxserve/onnxserve/runtime"

// checkBatch rejects inputs whose batch dimensions disagree. onnxruntime_go
// does not expose symbolic dimension names, so every input whose declared
// dim 0 is dynamic is taken to share the batch; a mismatch would otherwise
// surface as a 500 from deep inside ORT. prefix is "inputs." for /v1.
func checkBatch(sig *runtime.Signature, ts []runtime.Tensor, prefix string) error {
	first := -1
	for i, spec := range sig.Inputs {
		if len(spec.Shape) == 0 || spec.Shape[0] != -1 || len(ts[i].Shape) == 0 {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		if got, want := ts[i].Shape[0], ts[first].Shape[0]; got != want {
			return Invalid(prefix+spec.Name, "batch of %d differs from input %s's batch of %d", got, sig.Inputs[first].Name, want)
		}
	}
	return nil
}
