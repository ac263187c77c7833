package runtime

import (
	"fmt"
	"reflect"
	"strconv"

	ort "github.com/yalue/onnxruntime_go"
)

// This file is the ORT boundary: Tensor ↔ ort.Value. Values made here live
// for one run and are destroyed by the caller, on error paths too.

// toValue wraps t for ORT. Numeric data is not copied: ORT reads the Go
// slice, which must stay untouched until the run ends.
func toValue(t Tensor) (ort.Value, error) {
	switch data := t.Data.(type) {
	case []float32:
		if t.DType == Float16 || t.DType == BFloat16 {
			return ort.NewCustomDataTensor(ort.Shape(t.Shape), encodeHalf(t.DType, data), dtypes[t.DType].ort)
		}
		return wrap(t.Shape, data)
	case []float64:
		return wrap(t.Shape, data)
	case []int8:
		return wrap(t.Shape, data)
	case []int16:
		return wrap(t.Shape, data)
	case []int32:
		return wrap(t.Shape, data)
	case []int64:
		return wrap(t.Shape, data)
	case []uint8:
		return wrap(t.Shape, data)
	case []uint16:
		return wrap(t.Shape, data)
	case []uint32:
		return wrap(t.Shape, data)
	case []uint64:
		return wrap(t.Shape, data)
	case []bool:
		return wrap(t.Shape, data)
	case []string:
		s, err := ort.NewStringTensor(ort.Shape(t.Shape))
		if err != nil {
			return nil, err
		}
		if err := s.SetContents(data); err != nil {
			s.Destroy()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("no ORT value for %v data %T", t.DType, t.Data)
}

// wrap needs NewScalar for rank 0: NewTensor rejects an empty shape.
func wrap[T ort.TensorData](shape []int64, data []T) (ort.Value, error) {
	if len(shape) == 0 {
		return ort.NewScalar(data[0])
	}
	return ort.NewTensor(ort.Shape(shape), data)
}

// newOutput preallocates an output of the given dtype and shape. Besides
// saving ORT's copy, this is the only way to get float16/bfloat16 and rank-0
// outputs out of onnxruntime_go v1.27.0, whose own allocation fails on them.
func newOutput(d DType, shape []int64) (ort.Value, error) {
	n := NumElements(shape)
	switch d {
	case Float16, BFloat16:
		return ort.NewCustomDataTensor(ort.Shape(shape), make([]byte, 2*n), dtypes[d].ort)
	case String:
		return nil, nil // ORT allocates string outputs itself; that path works
	}
	if len(shape) == 0 {
		return newScalarOutput(d)
	}
	switch buf := NewBuffer(d, n).(type) {
	case []float32:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []float64:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []int8:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []int16:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []int32:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []int64:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []uint8:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []uint16:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []uint32:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []uint64:
		return ort.NewTensor(ort.Shape(shape), buf)
	case []bool:
		return ort.NewTensor(ort.Shape(shape), buf)
	}
	return nil, fmt.Errorf("cannot preallocate a %v output", d)
}

func newScalarOutput(d DType) (ort.Value, error) {
	switch d {
	case Float32:
		return ort.NewEmptyScalar[float32]()
	case Float64:
		return ort.NewEmptyScalar[float64]()
	case Int8:
		return ort.NewEmptyScalar[int8]()
	case Int16:
		return ort.NewEmptyScalar[int16]()
	case Int32:
		return ort.NewEmptyScalar[int32]()
	case Int64:
		return ort.NewEmptyScalar[int64]()
	case Uint8:
		return ort.NewEmptyScalar[uint8]()
	case Uint16:
		return ort.NewEmptyScalar[uint16]()
	case Uint32:
		return ort.NewEmptyScalar[uint32]()
	case Uint64:
		return ort.NewEmptyScalar[uint64]()
	case Bool:
		return ort.NewEmptyScalar[bool]()
	}
	return nil, fmt.Errorf("cannot preallocate a rank-0 %v output", d)
}

// isNil also catches the typed-nil interfaces onnxruntime_go leaves in an
// output slot when its own allocation fails.
func isNil(v ort.Value) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

func destroyAll(vs []ort.Value) {
	for i, v := range vs {
		if !isNil(v) {
			v.Destroy()
		}
		vs[i] = nil
	}
}

// fromValue copies what t needs out of v into Go memory; v may be destroyed
// afterwards. d is the output's declared dtype.
func fromValue(d DType, v ort.Value) (Tensor, error) {
	shape := []int64(v.GetShape())
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		return Tensor{Float32, shape, x.GetData()}, nil
	case *ort.Tensor[float64]:
		return Tensor{Float64, shape, x.GetData()}, nil
	case *ort.Tensor[int8]:
		return Tensor{Int8, shape, x.GetData()}, nil
	case *ort.Tensor[int16]:
		return Tensor{Int16, shape, x.GetData()}, nil
	case *ort.Tensor[int32]:
		return Tensor{Int32, shape, x.GetData()}, nil
	case *ort.Tensor[int64]:
		return Tensor{Int64, shape, x.GetData()}, nil
	case *ort.Tensor[uint8]:
		return Tensor{Uint8, shape, x.GetData()}, nil
	case *ort.Tensor[uint16]:
		return Tensor{Uint16, shape, x.GetData()}, nil
	case *ort.Tensor[uint32]:
		return Tensor{Uint32, shape, x.GetData()}, nil
	case *ort.Tensor[uint64]:
		return Tensor{Uint64, shape, x.GetData()}, nil
	case *ort.Tensor[bool]:
		return Tensor{Bool, shape, x.GetData()}, nil
	case *ort.Scalar[float32]:
		return Tensor{Float32, nil, []float32{x.GetData()}}, nil
	case *ort.Scalar[float64]:
		return Tensor{Float64, nil, []float64{x.GetData()}}, nil
	case *ort.Scalar[int8]:
		return Tensor{Int8, nil, []int8{x.GetData()}}, nil
	case *ort.Scalar[int16]:
		return Tensor{Int16, nil, []int16{x.GetData()}}, nil
	case *ort.Scalar[int32]:
		return Tensor{Int32, nil, []int32{x.GetData()}}, nil
	case *ort.Scalar[int64]:
		return Tensor{Int64, nil, []int64{x.GetData()}}, nil
	case *ort.Scalar[uint8]:
		return Tensor{Uint8, nil, []uint8{x.GetData()}}, nil
	case *ort.Scalar[uint16]:
		return Tensor{Uint16, nil, []uint16{x.GetData()}}, nil
	case *ort.Scalar[uint32]:
		return Tensor{Uint32, nil, []uint32{x.GetData()}}, nil
	case *ort.Scalar[uint64]:
		return Tensor{Uint64, nil, []uint64{x.GetData()}}, nil
	case *ort.Scalar[bool]:
		return Tensor{Bool, nil, []bool{x.GetData()}}, nil
	case *ort.StringTensor:
		s, err := x.GetContents()
		return Tensor{String, shape, s}, err
	case *ort.CustomDataTensor:
		if d != Float16 && d != BFloat16 {
			return Tensor{}, fmt.Errorf("output of type %v is not supported", d)
		}
		return Tensor{d, shape, decodeHalf(d, x.GetData())}, nil
	case *ort.Sequence:
		return fromMapSequence(x)
	}
	return Tensor{}, fmt.Errorf("output value %T is not supported", v)
}

// fromMapSequence reads sklearn's ZipMap output: one map per row, keyed by
// class label (int64 or string), into JSON-friendly string-keyed maps.
func fromMapSequence(s *ort.Sequence) (Tensor, error) {
	items, _ := s.GetValues()
	rows := make([]map[string]float64, len(items))
	for i, item := range items {
		m, ok := item.(*ort.Map)
		if !ok {
			return Tensor{}, fmt.Errorf("sequence element %d is %T, want a map", i, item)
		}
		k, v, _ := m.GetKeysAndValues()
		keys, err := mapKeys(k)
		if err != nil {
			return Tensor{}, err
		}
		vals, err := mapValues(v)
		if err != nil {
			return Tensor{}, err
		}
		if len(keys) != len(vals) {
			return Tensor{}, fmt.Errorf("map %d has %d keys and %d values", i, len(keys), len(vals))
		}
		row := make(map[string]float64, len(keys))
		for j, key := range keys {
			row[key] = vals[j]
		}
		rows[i] = row
	}
	return Tensor{MapSequence, []int64{int64(len(rows))}, rows}, nil
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
