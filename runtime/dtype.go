package runtime

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// DType is a tensor element type. One table below maps it to ONNX Runtime's
// element type, to the KServe v2 datatype name and to the Go slice type that
// holds its data, so no other file has to switch over all of them.
type DType int

const (
	Invalid DType = iota
	Float32
	Float64
	Float16  // held as []float32 in Go; converted at the ORT boundary
	BFloat16 // held as []float32 in Go; converted at the ORT boundary
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Bool
	String
	// MapSequence is not a tensor type: it is the sequence<map<K, V>> that
	// sklearn's ZipMap produces. Its data is []map[string]float64.
	MapSequence
)

type dtypeInfo struct {
	name string // our name, as written in docs and errors: "float32"
	v2   string // KServe v2 / Triton datatype: "FP32"
	ort  ort.TensorElementDataType
	size int // bytes per element in a raw buffer, 0 when not fixed
}

var dtypes = [...]dtypeInfo{
	Invalid:     {"invalid", "", ort.TensorElementDataTypeUndefined, 0},
	Float32:     {"float32", "FP32", ort.TensorElementDataTypeFloat, 4},
	Float64:     {"float64", "FP64", ort.TensorElementDataTypeDouble, 8},
	Float16:     {"float16", "FP16", ort.TensorElementDataTypeFloat16, 2},
	BFloat16:    {"bfloat16", "BF16", ort.TensorElementDataTypeBFloat16, 2},
	Int8:        {"int8", "INT8", ort.TensorElementDataTypeInt8, 1},
	Int16:       {"int16", "INT16", ort.TensorElementDataTypeInt16, 2},
	Int32:       {"int32", "INT32", ort.TensorElementDataTypeInt32, 4},
	Int64:       {"int64", "INT64", ort.TensorElementDataTypeInt64, 8},
	Uint8:       {"uint8", "UINT8", ort.TensorElementDataTypeUint8, 1},
	Uint16:      {"uint16", "UINT16", ort.TensorElementDataTypeUint16, 2},
	Uint32:      {"uint32", "UINT32", ort.TensorElementDataTypeUint32, 4},
	Uint64:      {"uint64", "UINT64", ort.TensorElementDataTypeUint64, 8},
	Bool:        {"bool", "BOOL", ort.TensorElementDataTypeBool, 1},
	String:      {"string", "BYTES", ort.TensorElementDataTypeString, 0},
	MapSequence: {"seq(map)", "", ort.TensorElementDataTypeUndefined, 0},
}

// String returns the name used in docs and error messages, e.g. "float32".
func (d DType) String() string {
	if d < 0 || int(d) >= len(dtypes) {
		return fmt.Sprintf("dtype(%d)", int(d))
	}
	return dtypes[d].name
}

// V2Name returns the Open Inference Protocol datatype, e.g. "FP32", or "" when
// the type has no v2 equivalent.
func (d DType) V2Name() string { return dtypes[d].v2 }

// Size is the width in bytes of one element in a raw little-endian buffer,
// 0 for strings and non-tensor types.
func (d DType) Size() int { return dtypes[d].size }

// IsFloat reports whether JSON numbers with a fraction or exponent are valid.
func (d DType) IsFloat() bool { return d == Float32 || d == Float64 || d == Float16 || d == BFloat16 }

// IsInteger reports whether the type holds signed or unsigned integers.
func (d DType) IsInteger() bool { return d >= Int8 && d <= Uint64 }

// IsSigned reports whether an integer type accepts negative values.
func (d DType) IsSigned() bool { return d >= Int8 && d <= Int64 }

// Bits is the width of an integer type in bits.
func (d DType) Bits() int { return d.Size() * 8 }

// ParseDType accepts our name ("float32") or the v2 name ("FP32").
func ParseDType(s string) (DType, bool) {
	for i, info := range dtypes {
		if i != int(Invalid) && (s == info.name || (info.v2 != "" && s == info.v2)) {
			return DType(i), true
		}
	}
	return Invalid, false
}

func dtypeFromORT(t ort.TensorElementDataType) DType {
	for i, info := range dtypes {
		if i != int(Invalid) && info.ort == t {
			return DType(i)
		}
	}
	return Invalid
}

// NewBuffer returns a zeroed Go slice of n elements of the type that holds d's
// data: []float32 for Float32, Float16 and BFloat16, []int64 for Int64,
// []string for String and so on.
func NewBuffer(d DType, n int) any {
	switch d {
	case Float32, Float16, BFloat16:
		return make([]float32, n)
	case Float64:
		return make([]float64, n)
	case Int8:
		return make([]int8, n)
	case Int16:
		return make([]int16, n)
	case Int32:
		return make([]int32, n)
	case Int64:
		return make([]int64, n)
	case Uint8:
		return make([]uint8, n)
	case Uint16:
		return make([]uint16, n)
	case Uint32:
		return make([]uint32, n)
	case Uint64:
		return make([]uint64, n)
	case Bool:
		return make([]bool, n)
	case String:
		return make([]string, n)
	case MapSequence:
		return make([]map[string]float64, n)
	}
	panic(fmt.Sprintf("runtime.NewBuffer: no buffer for %v", d))
}
