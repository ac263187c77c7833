package handlers

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Responses are written by hand with strconv.Append*: encoding/json would
// reflect over []any trees built per element, which costs more than the
// model run on small models.

// appendPredictResponse writes a PredictResponse for m's outputs.
func appendPredictResponse(b []byte, m *runtime.Model, outs []tensor.Tensor) []byte {
	b = append(b, `{"model":`...)
	b = appendString(b, m.Name)
	b = append(b, `,"version":`...)
	b = appendString(b, m.Version)
	b = append(b, `,"outputs":{`...)
	scores := m.ScoresOutput()
	var scoresText [2]int // where the scores output's JSON is in b
	for i, spec := range m.Signature.Outputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, spec.Name)
		b = append(b, ':')
		start := len(b)
		b = appendTensor(b, outs[i])
		if i == scores {
			scoresText = [2]int{start, len(b)}
		}
	}
	b = append(b, '}')
	if scores >= 0 {
		b = appendPredictions(b, m.Config.Labels, outs[scores], b[scoresText[0]:scoresText[1]])
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
		b = appendString(b, labels[best])
		b = append(b, `,"scores":{`...)
		for j := range row {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, labels[j])
			b = append(b, ':')
			b = append(b, next()...)
		}
		b = append(b, "}}"...)
	}
	return append(b, ']')
}

// appendTensor writes t as nested JSON arrays following its shape; a rank-0
// tensor is a bare value.
func appendTensor(b []byte, t tensor.Tensor) []byte {
	switch d := t.Data.(type) {
	case []float32:
		return appendNested(b, t.Shape, d, func(b []byte, v float32) []byte { return appendFloat(b, float64(v), 32) })
	case []float64:
		return appendNested(b, t.Shape, d, func(b []byte, v float64) []byte { return appendFloat(b, v, 64) })
	case []int8:
		return appendNested(b, t.Shape, d, appendInt)
	case []int16:
		return appendNested(b, t.Shape, d, appendInt)
	case []int32:
		return appendNested(b, t.Shape, d, appendInt)
	case []int64:
		return appendNested(b, t.Shape, d, appendInt)
	case []uint8:
		return appendNested(b, t.Shape, d, appendUint)
	case []uint16:
		return appendNested(b, t.Shape, d, appendUint)
	case []uint32:
		return appendNested(b, t.Shape, d, appendUint)
	case []uint64:
		return appendNested(b, t.Shape, d, appendUint)
	case []bool:
		return appendNested(b, t.Shape, d, strconv.AppendBool)
	case []string:
		return appendNested(b, t.Shape, d, appendString)
	case []map[string]float64:
		return appendNested(b, []int64{int64(len(d))}, d, appendScoreMap)
	}
	return append(b, "null"...)
}

func appendNested[T any](b []byte, shape []int64, data []T, elem func([]byte, T) []byte) []byte {
	if len(shape) == 0 {
		if len(data) == 0 {
			return append(b, "null"...)
		}
		return elem(b, data[0])
	}
	// stride is the number of elements under one entry of dimension 0.
	stride := tensor.NumElements(shape[1:])
	b = append(b, '[')
	for i := 0; i < int(shape[0]); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		if len(shape) == 1 {
			b = elem(b, data[i])
		} else {
			b = appendNested(b, shape[1:], data[i*stride:(i+1)*stride], elem)
		}
	}
	return append(b, ']')
}

func appendInt[T signed](b []byte, v T) []byte    { return strconv.AppendInt(b, int64(v), 10) }
func appendUint[T unsigned](b []byte, v T) []byte { return strconv.AppendUint(b, uint64(v), 10) }

// appendFloat writes the shortest decimal that reads back as the same value
// at the given precision; NaN and ±Inf, which JSON cannot carry, become null.
func appendFloat(b []byte, v float64, bits int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, bits)
}

func appendScoreMap(b []byte, m map[string]float64) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendFloat(b, m[k], 64)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
