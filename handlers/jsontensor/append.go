package jsontensor

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Responses are written by hand with strconv.Append*: encoding/json would
// reflect over []any trees built per element, which costs more than the
// model run on small models.

// AppendTensor writes t as nested JSON arrays following its shape; a rank-0
// tensor is a bare value.
func AppendTensor(b []byte, t tensor.Tensor) []byte {
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
		return appendNested(b, t.Shape, d, AppendString)
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

// AppendFloat is appendFloat, for a front end writing numbers of its own
// (e.g. /v1's softmax scores).
func AppendFloat(b []byte, v float64, bits int) []byte { return appendFloat(b, v, bits) }

// appendFloat writes the shortest decimal that reads back as the same value
// at the given precision; NaN and ±Inf, which JSON cannot carry, become null.
func appendFloat(b []byte, v float64, bits int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	if bits == 32 {
		return appendFloat32(b, float32(v))
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
		b = AppendString(b, k)
		b = append(b, ':')
		b = appendFloat(b, m[k], 64)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// escaped holds the ASCII bytes AppendString escapes: one load a byte,
// where six tests were.
var escaped = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c < 0x20 || strings.IndexByte(`"\<>&`, byte(c)) >= 0
	}
	return t
}()

// AppendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !escaped[c] {
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
