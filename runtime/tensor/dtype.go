// Package tensor is the vocabulary every layer of onnxserve shares: element
// types, typed row-major buffers, and what a model takes and gives. It is
// pure Go (no cgo, no ONNX Runtime), so the codecs and the protocol-neutral
// core build and test without the C library.
package tensor

import (
	"fmt"
)

// DType is a tensor element type. The table below maps it to its names,
// its width in a raw buffer and the operations on the Go slice that holds
// its data, so that no other file has to switch over all of them.
type DType int

const (
	Invalid DType = iota
	Float32
	Float64
	Float16  // held as []float32 in Go; converted at the ORT and wire boundaries
	BFloat16 // held as []float32 in Go; converted at the ORT and wire boundaries
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
	numDTypes
)

type dtypeInfo struct {
	name string // our name, as written in docs and errors: "float32"
	v2   string // KServe v2 / Triton datatype: "FP32"
	size int    // bytes per element in a raw little-endian buffer, 0 when not fixed
	ops  elemOps
}

var dtypes = [numDTypes]dtypeInfo{
	Invalid:     {"invalid", "", 0, nil},
	Float32:     {"float32", "FP32", 4, sliceOps[float32]{raw: true}},
	Float64:     {"float64", "FP64", 8, sliceOps[float64]{raw: true}},
	Float16:     {"float16", "FP16", 2, sliceOps[float32]{}}, // 4 bytes in Go, 2 on the wire
	BFloat16:    {"bfloat16", "BF16", 2, sliceOps[float32]{}},
	Int8:        {"int8", "INT8", 1, sliceOps[int8]{raw: true}},
	Int16:       {"int16", "INT16", 2, sliceOps[int16]{raw: true}},
	Int32:       {"int32", "INT32", 4, sliceOps[int32]{raw: true}},
	Int64:       {"int64", "INT64", 8, sliceOps[int64]{raw: true}},
	Uint8:       {"uint8", "UINT8", 1, sliceOps[uint8]{raw: true}},
	Uint16:      {"uint16", "UINT16", 2, sliceOps[uint16]{raw: true}},
	Uint32:      {"uint32", "UINT32", 4, sliceOps[uint32]{raw: true}},
	Uint64:      {"uint64", "UINT64", 8, sliceOps[uint64]{raw: true}},
	Bool:        {"bool", "BOOL", 1, sliceOps[bool]{raw: true}},
	String:      {"string", "BYTES", 0, sliceOps[string]{}},
	MapSequence: {"seq(map)", "", 0, sliceOps[map[string]float64]{}},
}

func (d DType) valid() bool { return d > Invalid && d < numDTypes }

// String returns the name used in docs and error messages, e.g. "float32".
func (d DType) String() string {
	if d < 0 || d >= numDTypes {
		return fmt.Sprintf("dtype(%d)", int(d))
	}
	return dtypes[d].name
}

// V2Name returns the Open Inference Protocol datatype, e.g. "FP32", or "" when
// the type has no v2 equivalent.
func (d DType) V2Name() string {
	if !d.valid() {
		return ""
	}
	return dtypes[d].v2
}

// Size is the width in bytes of one element in a raw little-endian buffer,
// 0 for strings and non-tensor types.
func (d DType) Size() int {
	if !d.valid() {
		return 0
	}
	return dtypes[d].size
}

// IsFloat reports whether JSON numbers with a fraction or exponent are valid.
func (d DType) IsFloat() bool { return d == Float32 || d == Float64 || d == Float16 || d == BFloat16 }

// IsInteger reports whether the type holds signed or unsigned integers.
func (d DType) IsInteger() bool { return d >= Int8 && d <= Uint64 }

// IsSigned reports whether an integer type accepts negative values.
func (d DType) IsSigned() bool { return d >= Int8 && d <= Int64 }

// IsHalf reports whether the type is a 16-bit float held as []float32.
func (d DType) IsHalf() bool { return d == Float16 || d == BFloat16 }

// Bits is the width of an integer type in bits.
func (d DType) Bits() int { return d.Size() * 8 }

// ParseV2 accepts only the Open Inference Protocol name ("FP32").
func ParseV2(s string) (DType, bool) {
	for i, info := range dtypes {
		if info.v2 != "" && s == info.v2 {
			return DType(i), true
		}
	}
	return Invalid, false
}

// NewBuffer returns a zeroed Go slice of n elements of the type that holds d's
// data: []float32 for Float32, Float16 and BFloat16, []int64 for Int64,
// []string for String and so on.
func NewBuffer(d DType, n int) any {
	if !d.valid() {
		panic(fmt.Sprintf("tensor.NewBuffer: no buffer for %v", d))
	}
	return dtypes[d].ops.make(n)
}
