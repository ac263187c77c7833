package runtime

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// This file is the ORT boundary: Tensor ↔ ort.Value. Values made here live
// for one run and are destroyed by the caller, on error paths too.

// ortType is what ONNX Runtime calls a dtype and, for the types
// onnxruntime_go has a Go element type for, how to move its data across.
type ortType struct {
	elem ort.TensorElementDataType
	ops  ortOps // nil for half floats, strings and map sequences
}

var ortTypes = [...]ortType{
	tensor.Invalid:     {ort.TensorElementDataTypeUndefined, nil},
	tensor.Float32:     {ort.TensorElementDataTypeFloat, ortNumber[float32]{}},
	tensor.Float64:     {ort.TensorElementDataTypeDouble, ortNumber[float64]{}},
	tensor.Float16:     {ort.TensorElementDataTypeFloat16, nil},
	tensor.BFloat16:    {ort.TensorElementDataTypeBFloat16, nil},
	tensor.Int8:        {ort.TensorElementDataTypeInt8, ortNumber[int8]{}},
	tensor.Int16:       {ort.TensorElementDataTypeInt16, ortNumber[int16]{}},
	tensor.Int32:       {ort.TensorElementDataTypeInt32, ortNumber[int32]{}},
	tensor.Int64:       {ort.TensorElementDataTypeInt64, ortNumber[int64]{}},
	tensor.Uint8:       {ort.TensorElementDataTypeUint8, ortNumber[uint8]{}},
	tensor.Uint16:      {ort.TensorElementDataTypeUint16, ortNumber[uint16]{}},
	tensor.Uint32:      {ort.TensorElementDataTypeUint32, ortNumber[uint32]{}},
	tensor.Uint64:      {ort.TensorElementDataTypeUint64, ortNumber[uint64]{}},
	tensor.Bool:        {ort.TensorElementDataTypeBool, ortNumber[bool]{}},
	tensor.String:      {ort.TensorElementDataTypeString, nil},
	tensor.MapSequence: {ort.TensorElementDataTypeUndefined, nil},
}

func dtypeFromORT(t ort.TensorElementDataType) tensor.DType {
	for i, info := range ortTypes {
		if i != int(tensor.Invalid) && info.elem == t {
			return tensor.DType(i)
		}
	}
	return tensor.Invalid
}

// ortOps moves one element type's data in and out of ORT values.
type ortOps interface {
	wrap(shape []int64, data any) (ort.Value, error)
	preallocate(shape []int64) (ort.Value, error)
	// read returns v's data and shape (nil for a scalar), false when v
	// does not hold this element type.
	read(v ort.Value) (data any, shape []int64, ok bool)
	// load copies data into v, a tensor preallocate made of its shape.
	load(v ort.Value, data any)
	// copyOut is a copy of the data of v, a value preallocate made: a
	// bound one, which the next run overwrites.
	copyOut(v ort.Value) any
}

type ortNumber[T ort.TensorData] struct{}

// wrap needs NewScalar for rank 0: NewTensor rejects an empty shape.
func (ortNumber[T]) wrap(shape []int64, data any) (ort.Value, error) {
	d := data.([]T)
	if len(shape) == 0 {
		return ort.NewScalar(d[0])
	}
	return ort.NewTensor(ort.Shape(shape), d)
}

func (ortNumber[T]) preallocate(shape []int64) (ort.Value, error) {
	if len(shape) == 0 {
		return ort.NewEmptyScalar[T]()
	}
	return ort.NewTensor(ort.Shape(shape), make([]T, tensor.NumElements(shape)))
}

func (ortNumber[T]) load(v ort.Value, data any) {
	copy(v.(*ort.Tensor[T]).GetData(), data.([]T))
}

func (ortNumber[T]) copyOut(v ort.Value) any {
	if x, ok := v.(*ort.Scalar[T]); ok {
		return []T{x.GetData()}
	}
	return slices.Clone(v.(*ort.Tensor[T]).GetData())
}

func (ortNumber[T]) read(v ort.Value) (any, []int64, bool) {
	switch x := v.(type) {
	case *ort.Tensor[T]:
		return x.GetData(), []int64(x.GetShape()), true
	case *ort.Scalar[T]:
		return []T{x.GetData()}, nil, true
	}
	return nil, nil, false
}

// toValue wraps t, which Model.checkInputs has checked, for ORT. Numeric
// data is not copied: ORT reads the Go slice, which must stay untouched
// until the run ends.
func toValue(t tensor.Tensor) (ort.Value, error) {
	switch {
	case ortTypes[t.DType].ops != nil:
		return ortTypes[t.DType].ops.wrap(t.Shape, t.Data)
	case t.DType.IsHalf():
		return ort.NewCustomDataTensor(ort.Shape(t.Shape), tensor.EncodeHalf(t.DType, t.Data.([]float32)), ortTypes[t.DType].elem)
	case t.DType == tensor.String:
		s, err := ort.NewStringTensor(ort.Shape(t.Shape))
		if err != nil {
			return nil, err
		}
		if err := s.SetContents(t.Data.([]string)); err != nil {
			s.Destroy()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("no ORT value for %v data %T", t.DType, t.Data)
}

// newOutput preallocates an output of the given dtype and shape. Besides
// saving ORT's copy, this is the only way to get float16/bfloat16 and rank-0
// outputs out of onnxruntime_go v1.27.0, whose own allocation fails on them.
func newOutput(d tensor.DType, shape []int64) (ort.Value, error) {
	switch {
	case ortTypes[d].ops != nil:
		return ortTypes[d].ops.preallocate(shape)
	case d.IsHalf():
		return ort.NewCustomDataTensor(ort.Shape(shape), make([]byte, 2*tensor.NumElements(shape)), ortTypes[d].elem)
	case d == tensor.String:
		return nil, nil // ORT allocates string outputs itself; that path works
	}
	return nil, fmt.Errorf("cannot preallocate a %v output", d)
}

// isNil also catches the typed-nil interfaces onnxruntime_go leaves in an
// output slot when it fails to wrap a value ORT allocated; that run then
// fails, so only a failed run's outputs need the check.
func isNil(v ort.Value) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// destroyAll destroys the values of a run; failed says the run failed, and
// its output slots may hold typed nils.
func destroyAll(vs []ort.Value, failed bool) {
	for i, v := range vs {
		if v != nil && (!failed || !isNil(v)) {
			v.Destroy()
		}
		vs[i] = nil
	}
}

// fromValue copies what t needs out of v into Go memory; v may be destroyed
// afterwards. d is the output's declared dtype, which ORT's value has.
func fromValue(d tensor.DType, v ort.Value) (tensor.Tensor, error) {
	if ops := ortTypes[d].ops; ops != nil {
		if data, shape, ok := ops.read(v); ok {
			return tensor.Tensor{DType: d, Shape: shape, Data: data}, nil
		}
	}
	shape := []int64(v.GetShape())
	switch x := v.(type) {
	case *ort.StringTensor:
		s, err := x.GetContents()
		return tensor.Tensor{DType: tensor.String, Shape: shape, Data: s}, err
	case *ort.CustomDataTensor:
		if !d.IsHalf() {
			return tensor.Tensor{}, fmt.Errorf("output of type %v is not supported", d)
		}
		return tensor.Tensor{DType: d, Shape: shape, Data: tensor.DecodeHalf(d, x.GetData())}, nil
	case *ort.Sequence:
		return fromMapSequence(x)
	}
	return tensor.Tensor{}, fmt.Errorf("output value %T of a %v output is not supported", v, d)
}

// fromMapSequence reads sklearn's ZipMap output: one map per row, keyed by
// class label (int64 or string), into JSON-friendly string-keyed maps.
func fromMapSequence(s *ort.Sequence) (tensor.Tensor, error) {
	items, _ := s.GetValues()
	rows := make([]map[string]float64, len(items))
	for i, item := range items {
		m, ok := item.(*ort.Map)
		if !ok {
			return tensor.Tensor{}, fmt.Errorf("sequence element %d is %T, want a map", i, item)
		}
		k, v, _ := m.GetKeysAndValues()
		keys, err := mapKeys(k)
		if err != nil {
			return tensor.Tensor{}, err
		}
		vals, err := mapValues(v)
		if err != nil {
			return tensor.Tensor{}, err
		}
		if len(keys) != len(vals) {
			return tensor.Tensor{}, fmt.Errorf("map %d has %d keys and %d values", i, len(keys), len(vals))
		}
		row := make(map[string]float64, len(keys))
		for j, key := range keys {
			row[key] = vals[j]
		}
		rows[i] = row
	}
	return tensor.Tensor{DType: tensor.MapSequence, Shape: []int64{int64(len(rows))}, Data: rows}, nil
}

func mapKeys(v ort.Value) ([]string, error) {
	switch k := v.(type) {
	case *ort.Tensor[int64]:
		out := make([]string, len(k.GetData()))
		for i, x := range k.GetData() {
			out[i] = strconv.FormatInt(x, 10)
		}
		return out, nil
	case *ort.StringTensor:
		return k.GetContents()
	}
	return nil, fmt.Errorf("map keys of type %T are not supported", v)
}

func mapValues(v ort.Value) ([]float64, error) {
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		out := make([]float64, len(x.GetData()))
		for i, f := range x.GetData() {
			out[i] = float64(f)
		}
		return out, nil
	case *ort.Tensor[float64]:
		return x.GetData(), nil
	}
	return nil, fmt.Errorf("map values of type %T are not supported", v)
}
