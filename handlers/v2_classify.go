package handlers

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// classify applies Triton's classification extension to a numeric output:
// per batch row, the k highest values as BYTES "value:index" or
// "value:index:label", highest first. The result has shape [batch, k] when
// the output is batched, else [k]; k is capped at the classes there are.
// Values print as Triton prints them (C++ std::to_string: six decimals for
// floats), so clients that parse them see the same text.
func classify(t tensor.Tensor, k int, batched bool, labels []string) (tensor.Tensor, error) {
	rows := 1
	if batched {
		rows = int(t.Shape[0])
	}
	var classes []string
	switch d := t.Data.(type) {
	case []float32:
		classes, k = topK(d, rows, k, labels, func(v float32) string { return strconv.FormatFloat(float64(v), 'f', 6, 64) })
	case []float64:
		classes, k = topK(d, rows, k, labels, func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) })
	case []int8:
		classes, k = topK(d, rows, k, labels, formatInt)
	case []int16:
		classes, k = topK(d, rows, k, labels, formatInt)
	case []int32:
		classes, k = topK(d, rows, k, labels, formatInt)
	case []int64:
		classes, k = topK(d, rows, k, labels, formatInt)
	case []uint8:
		classes, k = topK(d, rows, k, labels, formatUint)
	case []uint16:
		classes, k = topK(d, rows, k, labels, formatUint)
	case []uint32:
		classes, k = topK(d, rows, k, labels, formatUint)
	case []uint64:
		classes, k = topK(d, rows, k, labels, formatUint)
	default:
		return tensor.Tensor{}, fmt.Errorf("class result not available for an output of type %s", t.DType.V2Name())
	}
	shape := []int64{int64(k)}
	if batched {
		shape = []int64{int64(rows), int64(k)}
	}
	return tensor.Tensor{DType: tensor.String, Shape: shape, Data: classes}, nil
}

func formatInt[T int8 | int16 | int32 | int64](v T) string {
	return strconv.FormatInt(int64(v), 10)
}

func formatUint[T uint8 | uint16 | uint32 | uint64](v T) string {
	return strconv.FormatUint(uint64(v), 10)
}

// topK returns the top k classes of each of rows equal rows of vals, and
// k capped at the number of classes.
func topK[T cmp.Ordered](vals []T, rows, k int, labels []string, format func(T) string) ([]string, int) {
	per := 0
	if rows > 0 {
		per = len(vals) / rows
	}
	k = min(k, per)
	out := make([]string, 0, rows*k)
	idx := make([]int, per)
	for r := range rows {
		row := vals[r*per : (r+1)*per]
		for i := range idx {
			idx[i] = i
		}
		// Highest first, ties by index; NaN last, as cmp.Compare puts it lowest.
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(row[b], row[a]) })
		for _, i := range idx[:k] {
			s := format(row[i]) + ":" + strconv.Itoa(i)
			if i < len(labels) {
				s += ":" + labels[i]
			}
			out = append(out, s)
		}
	}
	return out, k
}
