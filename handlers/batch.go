package handlers

import (
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// checkBatch turns inputs whose batch dimensions disagree into a 422
// naming the input (tensor.Signature.BatchMismatch says why they must
// agree); without it the mismatch would surface as a 500 from ORT.
func checkBatch(sig *tensor.Signature, ts []tensor.Tensor) error {
	if at, first := sig.BatchMismatch(ts); at >= 0 {
		return Invalid("inputs."+sig.Inputs[at].Name, "batch of %d differs from input %s's batch of %d",
			ts[at].Shape[0], sig.Inputs[first].Name, ts[first].Shape[0])
	}
	return nil
}
