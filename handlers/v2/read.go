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
func (f *fields) add(key []byte) bool {
	bit := fieldBit(string(key))
	if *f&bit != 0 {
		return false
	}
	*f |= bit
	return true
}

func (f fields) has(key string) bool { return f&fieldBit(key) != 0 }

// Small readers. Each consumes one value at d.i; errors name it by its
// where, whose path is built only when there is an error: a request that
// decodes builds none.

// where is a value's place in the request: key within the request's top
// level ("id", "parameters.timeout"), or within element pos of list
// ("inputs[0].name"), with dim ≥ 0 an element of that key ("shape[1]").
type where struct {
	list string
	pos  int
	key  string
	dim  int
}

func top(key string) where { return where{key: key, dim: -1} }

func (w where) in(key string) where { return where{list: w.list, pos: w.pos, key: key, dim: -1} }

func (w where) String() string {
	s := w.key
	if w.list != "" {
		elem := w.list + "[" + strconv.Itoa(w.pos) + "]"
		if s == "" {
			s = elem
		} else {
			s = elem + "." + s
		}
	}
	if w.dim >= 0 {
		s += "[" + strconv.Itoa(w.dim) + "]"
	}
	return s
}

// string reads a string; it is the one of known that it equals when there
// is one, so that the names a request is expected to send (the model's)
// cost no copy.
func (v *v2Decoder) string(w where, known func(s []byte) (string, bool)) (string, *inference.Error) {
	d := &v.d
	if d.Next() != '"' {
		return "", rest.CodecError(d.Mismatch(w.String(), "a string"))
	}
	s, err := d.Str()
	if err != nil {
		return "", rest.CodecError(err)
	}
	if known != nil {
		if k, ok := known(s); ok {
			return k, nil
		}
	}
	return string(s), nil
}

func (v *v2Decoder) bool(w where) (bool, *inference.Error) {
	b, err := v.d.Bool()
	if err != nil {
		return false, rest.CodecError(err.Named(w.String()))
	}
	return b, nil
}

// count reads a non-negative integer.
func (v *v2Decoder) count(w where) (int64, *inference.Error) {
	text, mag, neg, err := v.d.Integer(tensor.Int64)
	switch {
	case err != nil:
		return 0, rest.CodecError(err.Named(w.String()))
	case neg && mag != 0, mag > 1<<62:
		return 0, badRequest("%s: %s is not a valid size", w, jsontensor.Clip(text))
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

// shape reads an input's shape into the decoder's dims, which keep their
// memory from request to request; the core's Inputs.Bound refuses one
// with more elements than the request has bytes before anything is sized
// from it.
func (v *v2Decoder) shape(in *v2Input) ([]int64, *inference.Error) {
	d := &v.d
	if d.Next() != '[' {
		return nil, rest.CodecError(d.Mismatch(v.inputField(in)+": shape", "an array"))
	}
	start := len(v.dims)
	err := elements(d, func(k int) *inference.Error {
		if k == jsontensor.MaxDepth {
			return badRequest("%s: shape has more than %d dimensions", v.inputField(in), jsontensor.MaxDepth)
		}
		w := in.where("shape")
		w.dim = k
		dim, err := v.count(w)
		if err != nil {
			return err
		}
		v.dims = append(v.dims, dim)
		return nil
	})
	// Capped, so that the next shape's dims never write over this one's.
	return v.dims[start:len(v.dims):len(v.dims)], err
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
func (v *v2Decoder) parameters(w where, param func(key string) *inference.Error) *inference.Error {
	d := &v.d
	if d.Next() != '{' {
		return rest.CodecError(d.Mismatch(w.String(), "an object"))
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
