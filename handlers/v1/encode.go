package v1

import (
	"math"

	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Responses are written by hand with strconv.Append*: encoding/json would
// reflect over []any trees built per element, which costs more than the
// model run on small models.

// appendPredictResponse writes a PredictResponse for m's outputs outs:
// which[i] is the Signature.Outputs index of outs[i], or which is nil for
// every output in order. The predictions come with the labels' output.
func appendPredictResponse(b []byte, m *runtime.Model, outs []tensor.Tensor, which []int) []byte {
	b = append(b, `{"model":`...)
	b = jsontensor.AppendString(b, m.Name)
	b = append(b, `,"version":`...)
	b = jsontensor.AppendString(b, m.Version)
	b = append(b, `,"outputs":{`...)
	scores, labelled := m.ScoresOutput(), -1 // labelled: scores' place in outs
	var scoresText [2]int                    // where the scores output's JSON is in b
	var inBase64 []int                       // the outputs written as base64, by Signature index
	for i := range outs {
		index := i
		if which != nil {
			index = which[i]
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontensor.AppendString(b, m.Signature.Outputs[index].Name)
		b = append(b, ':')
		start := len(b)
		if jsontensor.NeedsBase64(outs[i]) {
			b = jsontensor.AppendBase64(b, outs[i])
			inBase64 = append(inBase64, index)
		} else {
			b = jsontensor.AppendTensor(b, outs[i])
		}
		if index == scores {
			scoresText, labelled = [2]int{start, len(b)}, i
		}
	}
	b = append(b, '}')
	if inBase64 != nil {
		b = append(b, `,"content_types":{`...)
		for j, i := range inBase64 {
			if j > 0 {
				b = append(b, ',')
			}
			b = jsontensor.AppendString(b, m.Signature.Outputs[i].Name)
			b = append(b, `:"`+jsontensor.Base64+`"`...)
		}
		b = append(b, '}')
	}
	if labelled >= 0 && m.Config.Softmax {
		b = appendSoftmaxPredictions(b, m.Config.Labels, outs[labelled])
	} else if labelled >= 0 {
		b = appendPredictions(b, m.Config.Labels, outs[labelled], b[scoresText[0]:scoresText[1]])
	}
	return append(b, '}')
}

// appendPredictions names each row's best class and its scores by label.
// text is the scores as "outputs" wrote them: copying their digits is
// much cheaper than formatting every float a second time, which was half
// of a 64-row iris response.
func appendPredictions(b []byte, labels []string, scores tensor.Tensor, text []byte) []byte {
	switch d := scores.Data.(type) {
	case []float32:
		return appendLabelled(b, labels, d, text)
	case []float64:
		return appendLabelled(b, labels, d, text)
	}
	return b
}

// appendLabelled writes scores row by row, the numbers taken in order from
// text, their nested-array JSON. text may alias b: appends never write over
// it (they go past its end, or to a new array).
func appendLabelled[T float32 | float64](b []byte, labels []string, vals []T, text []byte) []byte {
	pos := 0
	next := func() []byte {
		for pos < len(text) && (text[pos] == '[' || text[pos] == ']' || text[pos] == ',') {
			pos++
		}
		start := pos
		for pos < len(text) && text[pos] != ',' && text[pos] != ']' {
			pos++
		}
		return text[start:pos]
	}
	n := len(labels)
	b = append(b, `,"predictions":[`...)
	for r := 0; r+n <= len(vals); r += n {
		if r > 0 {
			b = append(b, ',')
		}
		row := vals[r : r+n]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		b = append(b, `{"label":`...)
		b = jsontensor.AppendString(b, labels[best])
		b = append(b, `,"scores":{`...)
		for j := range row {
			if j > 0 {
				b = append(b, ',')
			}
			b = jsontensor.AppendString(b, labels[j])
			b = append(b, ':')
			b = append(b, next()...)
		}
		b = append(b, "}}"...)
	}
	return append(b, ']')
}

// appendSoftmaxPredictions is appendPredictions for an output of logits
// (config.yaml's softmax): each row's scores are its softmax, computed in
// float64 and written at the output's precision. The best label is the
// logits' argmax, which softmax keeps.
func appendSoftmaxPredictions(b []byte, labels []string, logits tensor.Tensor) []byte {
	var vals []float64
	bits := 64
	switch d := logits.Data.(type) {
	case []float32:
		vals, bits = make([]float64, len(d)), 32
		for i, v := range d {
			vals[i] = float64(v)
		}
	case []float64:
		vals = d
	default:
		return b
	}
	n := len(labels)
	probs := make([]float64, n)
	b = append(b, `,"predictions":[`...)
	for r := 0; r+n <= len(vals); r += n {
		if r > 0 {
			b = append(b, ',')
		}
		best := softmax(probs, vals[r:r+n])
		b = append(b, `{"label":`...)
		b = jsontensor.AppendString(b, labels[best])
		b = append(b, `,"scores":{`...)
		for j, p := range probs {
			if j > 0 {
				b = append(b, ',')
			}
			b = jsontensor.AppendString(b, labels[j])
			b = append(b, ':')
			b = jsontensor.AppendFloat(b, p, bits) // null for NaN, as the outputs
		}
		b = append(b, "}}"...)
	}
	return append(b, ']')
}

// softmax writes the softmax of row into dst, less the row's maximum first
// so that exp cannot overflow, and returns the index of that maximum.
func softmax(dst, row []float64) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	sum := 0.0
	for j, v := range row {
		dst[j] = math.Exp(v - row[best])
		sum += dst[j]
	}
	for j := range dst {
		dst[j] /= sum
	}
	return best
}

// answerSize is a guess at the size of the answer to outs, for the buffer
// it is written into: about 32 bytes a value (its digits under "outputs",
// and again beside its label under "predictions"). A guess short of the
// answer costs a growth of the buffer.
func answerSize(outs []tensor.Tensor) int {
	n := 512
	for _, t := range outs {
		n += 32 * tensor.NumElements(t.Shape)
	}
	return n
}
