package tensor

// TensorSpec describes one model input or output. A dimension of -1 is
// dynamic; dimension 0 of a rank ≥ 1 tensor is the batch when it is -1.
type TensorSpec struct {
	Name  string
	DType DType
	Shape []int64
}

// Signature is what a model takes and gives, as read from the ONNX file.
type Signature struct {
	Inputs  []TensorSpec
	Outputs []TensorSpec
}

// BatchMismatch finds inputs that disagree on the batch: it returns the
// index of an input whose dim 0 differs from that of the first input with
// a dynamic dim 0, and that first input; at is -1 when all agree.
// onnxruntime_go does not expose symbolic dimension names, so every input
// whose declared dim 0 is dynamic is taken to share the batch. Merging
// requests along dim 0, and preallocating outputs, both rely on it.
func (s *Signature) BatchMismatch(ts []Tensor) (at, first int) {
	first = -1
	for i, spec := range s.Inputs {
		if len(spec.Shape) == 0 || spec.Shape[0] != -1 || i >= len(ts) || len(ts[i].Shape) == 0 {
			continue
		}
		if first < 0 {
			first = i
		} else if ts[i].Shape[0] != ts[first].Shape[0] {
			return i, first
		}
	}
	return -1, first
}

// Input returns the index of the named input, or -1.
func (s *Signature) Input(name string) int {
	for i := range s.Inputs {
		if s.Inputs[i].Name == name {
			return i
		}
	}
	return -1
}

// Output returns the index of the named output, or -1.
func (s *Signature) Output(name string) int {
	for i := range s.Outputs {
		if s.Outputs[i].Name == name {
			return i
		}
	}
	return -1
}
