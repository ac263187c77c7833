package v2

import (
	"strconv"
	"time"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/handlers/rest"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Small readers of the v2 request decoder, on top of the jsontensor codec.
// The protocol's own errors are *inference.Error: 400s that are mostly not about
// JSON syntax, which the codec's Error cannot say. The codec's errors are
// converted where they come out of it.

// fields is a set of the JSON fields an object had, to refuse repeats.
type fields uint8

// fieldBit is key's bit in a fields set, 0 for keys with no rule. Keys of
// the request and of an input share bits: a set holds one object's keys.
func fieldBit(key string) fields {
	switch key {
	case "name", "id":
		return 1
	case "datatype", "inputs":
		return 2
	case "shape", "outputs":
		return 4
	case "parameters":
		return 8
	case "data":
		return 16
	}
	return 0
}

// add records key, false if it came before.
func (f *fields) add(key string) bool {
	bit := fieldBit(key)
	if *f&bit != 0 {
		return false
	}
	*f |= bit
	return true
}

func (f fields) has(key string) bool { return f&fieldBit(key) != 0 }

// Small readers. Each consumes one value at d.i; errors name it as the
// key of the object at, a path built only when there is an error.

func at(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (v *v2Decoder) string(path, key string) (string, *inference.Error) {
	d := &v.d
	if d.Next() != '"' {
		return "", rest.CodecError(d.Mismatch(at(path, key), "a string"))
	}
	s, err := d.Str()
	return string(s), rest.CodecError(err)
}

func (v *v2Decoder) bool(path, key string) (bool, *inference.Error) {
	b, err := v.d.Bool()
	if err != nil {
		return false, rest.CodecError(err.Named(at(path, key)))
	}
	return b, nil
}

// count reads a non-negative integer.
func (v *v2Decoder) count(path, key string) (int64, *inference.Error) {
	text, mag, neg, err := v.d.Integer(tensor.Int64)
	switch {
	case err != nil:
		return 0, rest.CodecError(err.Named(at(path, key)))
	case neg && mag != 0, mag > 1<<62:
		return 0, badRequest("%s: %s is not a valid size", at(path, key), jsontensor.Clip(text))
	}
	return int64(mag), nil
}

// timeout reads the request parameter timeout: microseconds, as Triton
// counts it, 0 for none.
func (v *v2Decoder) timeout() (time.Duration, *inference.Error) {
	text, us, neg, err := v.d.Integer(tensor.Uint64)
	switch {
	case err != nil:
		return 0, rest.CodecError(err.Named("parameters.timeout"))
	case neg && us != 0:
		return 0, badRequest("parameters.timeout: %s is not a timeout: microseconds, 0 (none) or more", jsontensor.Clip(text))
	}
	return inference.Microseconds(us), nil
}

// shape reads an input's shape; the core's Inputs.Bound refuses one with
// more elements than the request has bytes before anything is sized from it.
func (v *v2Decoder) shape(in *v2Input) ([]int64, *inference.Error) {
	var shape []int64
	err := v.array(v.inputField(in)+": shape", func(k int) *inference.Error {
		if k == jsontensor.MaxDepth {
			return badRequest("%s: shape has more than %d dimensions", v.inputField(in), jsontensor.MaxDepth)
		}
		dim, err := v.count(in.path(), "shape["+strconv.Itoa(k)+"]")
		if err != nil {
			return err
		}
		shape = append(shape, dim)
		return nil
	})
	if shape == nil {
		shape = []int64{}
	}
	return shape, err
}

// array reads a JSON array, calling elem for each element at its value.
func (v *v2Decoder) array(field string, elem func(i int) *inference.Error) *inference.Error {
	d := &v.d
	if d.Next() != '[' {
		return rest.CodecError(d.Mismatch(field, "an array"))
	}
	return elements(d, elem)
}

// parameters reads a parameters object, calling param for each key at its value.
func (v *v2Decoder) parameters(field string, param func(key string) *inference.Error) *inference.Error {
	d := &v.d
	if d.Next() != '{' {
		return rest.CodecError(d.Mismatch(field, "an object"))
	}
	return object(d, func(key []byte) *inference.Error { return param(paramKey(key)) })
}

// paramKeys are the parameter names the decoder acts on: paramKey finds
// them without making a string, which each binary input and binary output
// request otherwise paid for.
var paramKeys = [...]string{"binary_data_output", "binary_data_size", "binary_data", "classification", "timeout",
	"shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"}

func paramKey(key []byte) string {
	for _, k := range paramKeys {
		if string(key) == k {
			return k
		}
	}
	return string(key)
}

// elements and object are the codec's Elements and Object for callbacks
// that fail with an *inference.Error: that error comes back as it is, and
// one of the codec's own is converted.
func elements(d *jsontensor.Decoder, elem func(i int) *inference.Error) *inference.Error {
	var failed *inference.Error
	err := d.Elements(func(i int) *jsontensor.Error { return stop(&failed, elem(i)) })
	return stopped(failed, err)
}

func object(d *jsontensor.Decoder, member func(key []byte) *inference.Error) *inference.Error {
	var failed *inference.Error
	err := d.Object(func(key []byte) *jsontensor.Error { return stop(&failed, member(key)) })
	return stopped(failed, err)
}

// stop keeps a callback's error in failed and has the codec stop.
func stop(failed **inference.Error, err *inference.Error) *jsontensor.Error {
	if err != nil {
		*failed = err
		return errStop
	}
	return nil
}

// stopped is the error of a walk: its callback's, else the codec's.
func stopped(failed *inference.Error, err *jsontensor.Error) *inference.Error {
	if failed != nil {
		return failed
	}
	return rest.CodecError(err)
}

// errStop ends the codec's walk over an array or object whose callback
// has failed; elements and object return the callback's error instead.
var errStop = &jsontensor.Error{Message: "stopped by its callback"}
