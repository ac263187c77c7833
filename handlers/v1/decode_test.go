package v1

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Signatures built by hand: the decoder needs no ONNX Runtime.
var (
	decFeatures = []string{"sepal_length", "sepal_width", "petal_length", "petal_width"}
	decIrisOpt  = decodeOpt{Features: decFeatures, MaxBatch: 64}
	decIrisSig  = &tensor.Signature{Inputs: []tensor.TensorSpec{
		{Name: "X", DType: tensor.Float32, Shape: []int64{-1, 4}},
	}}
	decMultiSig = &tensor.Signature{Inputs: []tensor.TensorSpec{
		{Name: "numeric", DType: tensor.Float32, Shape: []int64{-1, 3}},
		{Name: "category", DType: tensor.Int64, Shape: []int64{-1}},
	}}
	decScalarSig = &tensor.Signature{Inputs: []tensor.TensorSpec{
		{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 2}},
		{Name: "scale", DType: tensor.Float32, Shape: []int64{}},
	}}
	decScalarOnlySig = &tensor.Signature{Inputs: []tensor.TensorSpec{
		{Name: "scale", DType: tensor.Float64, Shape: []int64{}},
	}}
	decImageSig = &tensor.Signature{Inputs: []tensor.TensorSpec{
		{Name: "img", DType: tensor.Float32, Shape: []int64{-1, 2, 2}},
	}}
	decVectorSig = &tensor.Signature{Inputs: []tensor.TensorSpec{
		{Name: "v", DType: tensor.Int32, Shape: []int64{-1}},
	}}
	decAllSig = &tensor.Signature{Inputs: []tensor.TensorSpec{
		{Name: "f32", DType: tensor.Float32, Shape: []int64{-1, 2}},
		{Name: "f64", DType: tensor.Float64, Shape: []int64{-1}},
		{Name: "f16", DType: tensor.Float16, Shape: []int64{-1}},
		{Name: "bf16", DType: tensor.BFloat16, Shape: []int64{-1}},
		{Name: "i8", DType: tensor.Int8, Shape: []int64{-1}},
		{Name: "i16", DType: tensor.Int16, Shape: []int64{-1}},
		{Name: "i32", DType: tensor.Int32, Shape: []int64{-1}},
		{Name: "i64", DType: tensor.Int64, Shape: []int64{-1}},
		{Name: "u8", DType: tensor.Uint8, Shape: []int64{-1, 2}},
		{Name: "u16", DType: tensor.Uint16, Shape: []int64{-1}},
		{Name: "u32", DType: tensor.Uint32, Shape: []int64{-1}},
		{Name: "u64", DType: tensor.Uint64, Shape: []int64{-1}},
		{Name: "b", DType: tensor.Bool, Shape: []int64{-1}},
		{Name: "s", DType: tensor.String, Shape: []int64{-1}},
	}}
	decAllBody = `{"inputs": {
		"f32": [[1.5, -2], [0, 0]], "f64": [1e300, -1e300], "f16": [65504, -65504], "bf16": [-0.5, 0],
		"i8": [-128, 127], "i16": [-32768, 32767], "i32": [2147483647, -2147483648], "i64": [-9223372036854775808, 9223372036854775807],
		"u8": [[0, 255], [1, 2]], "u16": [65535, 0], "u32": [4294967295, 0], "u64": [18446744073709551615, 0],
		"b": [true, false], "s": ["a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", ""]}}`
)

// decOne is a signature with a single input named "v".
func decOne(dt tensor.DType, shape ...int64) *tensor.Signature {
	return &tensor.Signature{Inputs: []tensor.TensorSpec{{Name: "v", DType: dt, Shape: shape}}}
}

func decF32(shape []int64, v ...float32) tensor.Tensor {
	return tensor.Tensor{DType: tensor.Float32, Shape: shape, Data: v}
}

type decodeCase struct {
	name   string // the behaviour the case pins down
	sig    *tensor.Signature
	opt    decodeOpt
	body   string
	want   []tensor.Tensor // for a success
	status int             // for a failure: /v1's status
	fields []string        // for a failure: every Detail's field, in order
	msg    string          // for a failure: a part of the message
}

func decodeCases() []decodeCase {
	return []decodeCase{
		// Successes.
		{name: "one object of named features is one row in feature order",
			sig: decIrisSig, opt: decIrisOpt,
			body: `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`,
			want: []tensor.Tensor{decF32([]int64{1, 4}, 5.1, 3.5, 1.4, 0.2)}},
		{name: "named features go to their column whatever the key order",
			sig: decIrisSig, opt: decIrisOpt,
			body: `{"petal_width": 0.2, "sepal_length": 5.1, "petal_length": 1.4, "sepal_width": 3.5}`,
			want: []tensor.Tensor{decF32([]int64{1, 4}, 5.1, 3.5, 1.4, 0.2)}},
		{name: "instances of named-feature objects are rows",
			sig: decIrisSig, opt: decIrisOpt,
			body: `{"instances": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4},
				{"petal_width": 8, "petal_length": 7, "sepal_width": 6, "sepal_length": 5}]}`,
			want: []tensor.Tensor{decF32([]int64{2, 4}, 1, 2, 3, 4, 5, 6, 7, 8)}},
		{name: "instances of arrays are rows of the single input, also when it has features",
			sig: decIrisSig, opt: decIrisOpt,
			body: `{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}`,
			want: []tensor.Tensor{decF32([]int64{2, 4}, 5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3)}},
		{name: "instances of a rank-1 input are scalars",
			sig: decVectorSig, body: `{"instances": [1, 2, 3]}`,
			want: []tensor.Tensor{{DType: tensor.Int32, Shape: []int64{3}, Data: []int32{1, 2, 3}}}},
		{name: "rank-3 instances infer every dimension",
			sig: decImageSig, body: `{"instances": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}`,
			want: []tensor.Tensor{decF32([]int64{2, 2, 2}, 1, 2, 3, 4, 5, 6, 7, 8)}},
		{name: "named inputs come back in signature order whatever the body order",
			sig: decMultiSig, body: `{"inputs": {"category": [7, 9], "numeric": [[1, 2, 3], [4, 5, 6]]}}`,
			want: []tensor.Tensor{
				decF32([]int64{2, 3}, 1, 2, 3, 4, 5, 6),
				{DType: tensor.Int64, Shape: []int64{2}, Data: []int64{7, 9}},
			}},
		{name: "a rank-0 input is a bare value",
			sig: decScalarSig, body: `{"inputs": {"x": [[1, 2]], "scale": 2.0}}`,
			want: []tensor.Tensor{decF32([]int64{1, 2}, 1, 2), decF32([]int64{}, 2)}},
		{name: "every dtype decodes to its Go slice, at the edges of its range, with every string escape",
			sig: decAllSig, body: decAllBody,
			want: []tensor.Tensor{
				decF32([]int64{2, 2}, 1.5, -2, 0, 0),
				{DType: tensor.Float64, Shape: []int64{2}, Data: []float64{1e300, -1e300}},
				{DType: tensor.Float16, Shape: []int64{2}, Data: []float32{65504, -65504}},
				{DType: tensor.BFloat16, Shape: []int64{2}, Data: []float32{-0.5, 0}},
				{DType: tensor.Int8, Shape: []int64{2}, Data: []int8{-128, 127}},
				{DType: tensor.Int16, Shape: []int64{2}, Data: []int16{-32768, 32767}},
				{DType: tensor.Int32, Shape: []int64{2}, Data: []int32{2147483647, -2147483648}},
				{DType: tensor.Int64, Shape: []int64{2}, Data: []int64{-9223372036854775808, 9223372036854775807}},
				{DType: tensor.Uint8, Shape: []int64{2, 2}, Data: []uint8{0, 255, 1, 2}},
				{DType: tensor.Uint16, Shape: []int64{2}, Data: []uint16{65535, 0}},
				{DType: tensor.Uint32, Shape: []int64{2}, Data: []uint32{4294967295, 0}},
				{DType: tensor.Uint64, Shape: []int64{2}, Data: []uint64{18446744073709551615, 0}},
				{DType: tensor.Bool, Shape: []int64{2}, Data: []bool{true, false}},
				{DType: tensor.String, Shape: []int64{2}, Data: []string{"a\"\\/\b\f\n\r\t\u00e9\U0001F600", ""}},
			}},
		{name: "a lone surrogate escape becomes U+FFFD, as in encoding/json",
			sig: decOne(tensor.String, -1), body: `{"inputs": {"v": ["\ud800x", "\udc00\u0041"]}}`,
			want: []tensor.Tensor{{DType: tensor.String, Shape: []int64{2}, Data: []string{"\uFFFDx", "\uFFFDA"}}}},
		{name: "keys with escapes match feature names",
			sig: decIrisSig, opt: decIrisOpt,
			body: `{"sepal\u005flength": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4}`,
			want: []tensor.Tensor{decF32([]int64{1, 4}, 1, 2, 3, 4)}},
		{name: "whitespace everywhere, exponents and negative zero are fine",
			sig: decOne(tensor.Float64, -1), body: " \n\t{ \"inputs\" : { \"v\" : [ -0 , 1E2 , 2.5e-1 , -1.0E+1 ] } } \r\n",
			want: []tensor.Tensor{{DType: tensor.Float64, Shape: []int64{4}, Data: []float64{0, 100, 0.25, -10}}}},
		{name: "a dynamic inner dimension takes the size sent",
			sig: decOne(tensor.Float32, -1, -1), body: `{"inputs": {"v": [[1, 2, 3]]}}`,
			want: []tensor.Tensor{{DType: tensor.Float32, Shape: []int64{1, 3}, Data: []float32{1, 2, 3}}}},
		{name: "an empty inner array is a zero dimension, not an error",
			sig: decOne(tensor.Float32, -1, -1), body: `{"inputs": {"v": [[], []]}}`,
			want: []tensor.Tensor{{DType: tensor.Float32, Shape: []int64{2, 0}, Data: []float32{}}}},
		{name: "a batch of exactly max_batch_size is accepted",
			sig: decVectorSig, opt: decodeOpt{MaxBatch: 3}, body: `{"instances": [1, 2, 3]}`,
			want: []tensor.Tensor{{DType: tensor.Int32, Shape: []int64{3}, Data: []int32{1, 2, 3}}}},
		{name: "float32 rounds 17-digit numbers and keeps subnormal underflow",
			sig: decOne(tensor.Float32, -1), body: `{"inputs": {"v": [0.10000000149011612, 1e-50]}}`,
			want: []tensor.Tensor{{DType: tensor.Float32, Shape: []int64{2}, Data: []float32{0.1, 0}}}},

		// The top level.
		{name: "an empty body is a 400", sig: decIrisSig, body: "", status: 400, msg: "empty body"},
		{name: "a whitespace body is a 400", sig: decIrisSig, body: " \n\t ", status: 400, msg: "empty body"},
		{name: "a top-level array is a 422 on body",
			sig: decIrisSig, body: `[[1, 2, 3, 4]]`, status: 422, fields: []string{"body"}},
		{name: "a top-level number is a 422 on body",
			sig: decIrisSig, body: `42`, status: 422, fields: []string{"body"}},
		{name: "an object with no form and no features is a 422 on body",
			sig: decMultiSig, body: `{}`, status: 422, fields: []string{"body"}},
		{name: "an unknown top-level key is named and the accepted ones listed",
			sig: decIrisSig, opt: decIrisOpt, body: `{"foo": 1}`, status: 422, fields: []string{"foo"},
			msg: `unknown field; expected "inputs", "instances" or the features "sepal_length"`},
		{name: "inputs and instances cannot both be sent",
			sig: decIrisSig, body: `{"inputs": {"X": [[1, 2, 3, 4]]}, "instances": [[1, 2, 3, 4]]}`,
			status: 422, fields: []string{"instances"}},
		{name: "named features and instances cannot both be sent",
			sig: decIrisSig, opt: decIrisOpt, body: `{"sepal_length": 1, "instances": []}`,
			status: 422, fields: []string{"instances"}},
		{name: "a named feature after inputs is a conflict named by the feature",
			sig: decIrisSig, opt: decIrisOpt, body: `{"inputs": {"X": [[1, 2, 3, 4]]}, "sepal_length": 1}`,
			status: 422, fields: []string{"sepal_length"}, msg: `cannot be combined with "inputs"`},
		{name: "a duplicate top-level key is rejected",
			sig: decIrisSig, body: `{"instances": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]}`,
			status: 422, fields: []string{"instances"}},

		// Malformed JSON: 400 with the offset, even after a validation problem.
		{name: "trailing garbage after the top-level object is a 400",
			sig: decVectorSig, body: `{"instances": [1]} x`, status: 400, msg: "offset 19"},
		{name: "a truncated body is a 400",
			sig: decVectorSig, body: `{"instances": [1, 2`, status: 400, msg: "end of input"},
		{name: "an invalid literal is a 400",
			sig: decOne(tensor.Bool, -1), body: `{"inputs": {"v": [tru]}}`, status: 400, msg: "offset"},
		{name: "a trailing comma is a 400",
			sig: decVectorSig, body: `{"instances": [1, 2,]}`, status: 400, msg: "offset 20"},
		{name: "a leading zero is a 400",
			sig: decVectorSig, body: `{"instances": [01]}`, status: 400},
		{name: "NaN is not JSON",
			sig: decOne(tensor.Float32, -1), body: `{"inputs": {"v": [NaN]}}`, status: 400},
		{name: "malformed JSON after a validation error is still a 400",
			sig: decVectorSig, body: `{"instances": ["a"], }`, status: 400},
		{name: "an invalid escape is a 400",
			sig: decOne(tensor.String, -1), body: `{"inputs": {"v": ["\x"]}}`, status: 400},
		{name: "an invalid \\u escape is a 400",
			sig: decOne(tensor.String, -1), body: `{"inputs": {"v": ["\u12g4"]}}`, status: 400},
		{name: "a raw control character in a string is a 400",
			sig: decOne(tensor.String, -1), body: "{\"inputs\": {\"v\": [\"a\nb\"]}}", status: 400},
		{name: "nesting beyond the depth limit is a 400, not a stack overflow",
			sig: decVectorSig, body: `{"instances": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`,
			status: 400, msg: "nested deeper than 32"},

		// Named features.
		{name: "every missing feature is its own detail",
			sig: decIrisSig, opt: decIrisOpt, body: `{"sepal_length": 5.1, "petal_length": 1.4}`,
			status: 422, fields: []string{"sepal_width", "petal_width"}, msg: "missing feature"},
		{name: "an unknown feature is rejected",
			sig: decIrisSig, opt: decIrisOpt,
			body:   `{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4, "color": 1}`,
			status: 422, fields: []string{"color"}},
		{name: "a duplicate feature is rejected",
			sig: decIrisSig, opt: decIrisOpt,
			body:   `{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4, "sepal_width": 5}`,
			status: 422, fields: []string{"sepal_width"}, msg: "duplicate feature"},
		{name: "a feature of the wrong type is named by the feature",
			sig: decIrisSig, opt: decIrisOpt,
			body:   `{"sepal_length": "5.1", "sepal_width": 2, "petal_length": 3, "petal_width": 4}`,
			status: 422, fields: []string{"sepal_length"}, msg: "expected a number, got a string"},
		{name: "a problem in instance objects names the instance and feature",
			sig: decIrisSig, opt: decIrisOpt,
			body: `{"instances": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4},
				{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4},
				{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": null}]}`,
			status: 422, fields: []string{"instances[2].petal_width"}, msg: "expected a number, got null"},
		{name: "a missing feature in an instance names the instance",
			sig: decIrisSig, opt: decIrisOpt,
			body:   `{"instances": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3}]}`,
			status: 422, fields: []string{"instances[0].petal_width"}},
		{name: "an array among feature objects is rejected by index",
			sig: decIrisSig, opt: decIrisOpt,
			body:   `{"instances": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4}, [1, 2, 3, 4]]}`,
			status: 422, fields: []string{"instances[1]"}, msg: "got an array"},
		{name: "objects as instances without features are rejected",
			sig: decIrisSig, body: `{"instances": [{"v": 1}]}`,
			status: 422, fields: []string{"instances[0]"}, msg: "expected an array, got an object"},

		// Instances.
		{name: "instances of arrays for a multi-input model point to inputs",
			sig: decMultiSig, body: `{"instances": [[1, 2, 3]]}`,
			status: 422, fields: []string{"instances"}, msg: `"inputs"`},
		{name: "instances cannot batch a rank-0 input",
			sig: decScalarOnlySig, body: `{"instances": [1]}`, status: 422, fields: []string{"instances"}},
		{name: "an empty batch is rejected",
			sig: decIrisSig, body: `{"instances": []}`, status: 422, fields: []string{"instances"}, msg: "must not be empty"},
		{name: "a malformed row is reported before the batch limit, which the core checks once the body is read",
			sig: decVectorSig, opt: decodeOpt{MaxBatch: 2}, body: `{"instances": [1, 2, 3, [4, "x"]]}`,
			status: 422, fields: []string{"instances[3]"}, msg: "expected an integer, got an array"},
		{name: "a batch over max_batch_size says how big it was",
			sig: decVectorSig, opt: decodeOpt{MaxBatch: 2}, body: `{"instances": [1, 2, 3, 4]}`,
			status: 422, fields: []string{"instances"}, msg: "inference request batch-size must be <= 2 for 'm', input 'v' has 4"},
		{name: "a row missing features is reported before the batch limit",
			sig: decIrisSig, opt: decodeOpt{Features: decFeatures, MaxBatch: 1},
			body:   `{"instances": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4}, {}]}`,
			status: 422, fields: []string{"instances[1].sepal_length", "instances[1].sepal_width", "instances[1].petal_length", "instances[1].petal_width"}, msg: "missing feature"},
		{name: "a batch of feature objects over max_batch_size is rejected",
			sig: decIrisSig, opt: decodeOpt{Features: decFeatures, MaxBatch: 1},
			body:   `{"instances": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4}, {"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4}]}`,
			status: 422, fields: []string{"instances"}, msg: "batch-size must be <= 1 for 'm', input 'X' has 2"},
		{name: "a wrong row length names the first row",
			sig: decIrisSig, body: `{"instances": [[1, 2, 3, 4, 5]]}`,
			status: 422, fields: []string{"instances[0]"}, msg: "dimension 1 must be 4, got 5"},
		{name: "a short later row is ragged",
			sig: decIrisSig, body: `{"instances": [[1, 2, 3, 4], [1, 2, 3]]}`,
			status: 422, fields: []string{"instances[1]"}, msg: "expected 4 elements, got 3"},
		{name: "flat instances for a rank-2 input are a rank error on the instance",
			sig: decIrisSig, body: `{"instances": [1, 2, 3, 4]}`,
			status: 422, fields: []string{"instances[0]"}, msg: "expected rank 1 (shape [4]) for each instance, got rank 0"},
		{name: "ragged innermost arrays of a rank-3 tensor name the short one",
			sig: decImageSig, body: `{"instances": [[[1, 2], [3, 4]], [[5, 6], [7]]]}`,
			status: 422, fields: []string{"instances[1][1]"}, msg: "expected 2 elements, got 1"},
		{name: "instances that are not an array",
			sig: decIrisSig, body: `{"instances": {"a": 1}}`, status: 422, fields: []string{"instances"}},

		// Named inputs.
		{name: "every missing input is its own detail",
			sig: decAllSig, body: `{"inputs": {"f64": [1]}}`, status: 422,
			fields: []string{"inputs.f32", "inputs.f16", "inputs.bf16", "inputs.i8", "inputs.i16", "inputs.i32", "inputs.i64",
				"inputs.u8", "inputs.u16", "inputs.u32", "inputs.u64", "inputs.b", "inputs.s"}, msg: "missing input"},
		{name: "an unknown input lists the accepted ones",
			sig: decMultiSig, body: `{"inputs": {"numeric": [[1, 2, 3]], "category": [1], "extra": 1}}`,
			status: 422, fields: []string{"inputs.extra"}, msg: `expected one of "numeric", "category"`},
		{name: "a duplicate input is rejected",
			sig: decVectorSig, body: `{"inputs": {"v": [1], "v": [2]}}`, status: 422, fields: []string{"inputs.v"}},
		{name: "inputs must be an object",
			sig: decVectorSig, body: `{"inputs": [[1]]}`, status: 422, fields: []string{"inputs"}},
		{name: "a string where a number belongs names the element",
			sig: decIrisSig, body: `{"inputs": {"X": [[1, "2", 3, 4]]}}`,
			status: 422, fields: []string{"inputs.X[0][1]"}, msg: "expected a number, got a string"},
		{name: "ragged rows name the row",
			sig: decIrisSig, body: `{"inputs": {"X": [[1, 2, 3, 4], [1, 2, 3]]}}`,
			status: 422, fields: []string{"inputs.X[1]"}, msg: "expected 4 elements, got 3"},
		{name: "too deep a tensor is a rank error",
			sig: decIrisSig, body: `{"inputs": {"X": [[[1, 2, 3, 4]]]}}`,
			status: 422, fields: []string{"inputs.X"}, msg: "expected rank 2 (shape [-1, 4]), got rank 3"},
		{name: "too shallow a tensor is a rank error",
			sig: decIrisSig, body: `{"inputs": {"X": [1, 2, 3, 4]}}`,
			status: 422, fields: []string{"inputs.X"}, msg: "expected rank 2 (shape [-1, 4]), got rank 1"},
		{name: "an array for a rank-0 input is a rank error",
			sig: decScalarSig, body: `{"inputs": {"x": [[1, 2]], "scale": [2]}}`,
			status: 422, fields: []string{"inputs.scale"}, msg: "expected rank 0 (shape []), got rank 1"},
		{name: "a wrong fixed dimension names the input",
			sig: decIrisSig, body: `{"inputs": {"X": [[1, 2, 3, 4, 5]]}}`,
			status: 422, fields: []string{"inputs.X"}, msg: "dimension 1 must be 4, got 5"},
		{name: "an array where a number belongs, after the first, names the element",
			sig: decIrisSig, body: `{"inputs": {"X": [[1, 2, 3, 4], [1, [2], 3, 4]]}}`,
			status: 422, fields: []string{"inputs.X[1][1]"}, msg: "expected a number, got an array"},
		{name: "a number where a row belongs, after the first, names the row",
			sig: decIrisSig, body: `{"inputs": {"X": [[1, 2, 3, 4], 5]}}`,
			status: 422, fields: []string{"inputs.X[1]"}, msg: "expected an array, got a number"},
		{name: "a batch of named inputs over max_batch_size",
			sig: decMultiSig, opt: decodeOpt{MaxBatch: 1}, body: `{"inputs": {"category": [1, 2]}}`,
			status: 422, fields: []string{"inputs.category"}, msg: "batch-size must be <= 1 for 'm', input 'category' has 2"},
		{name: "an empty batch of named inputs is rejected",
			sig: decMultiSig, body: `{"inputs": {"category": []}}`,
			status: 422, fields: []string{"inputs.category"}, msg: "must not be empty"},
		{name: "null as a whole input",
			sig: decVectorSig, body: `{"inputs": {"v": null}}`, status: 422, fields: []string{"inputs.v"}, msg: "got null"},

		// Element types.
		{name: "an integer out of range names the dtype's range",
			sig: decOne(tensor.Uint8, -1, 2), body: `{"inputs": {"v": [[1, 300]]}}`,
			status: 422, fields: []string{"inputs.v[0][1]"}, msg: "300 is out of range for uint8 (0 to 255)"},
		{name: "a negative number for an unsigned dtype is out of range",
			sig: decOne(tensor.Uint32, -1), body: `{"inputs": {"v": [-1]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "out of range for uint32"},
		{name: "one below int8's minimum is out of range",
			sig: decOne(tensor.Int8, -1), body: `{"inputs": {"v": [-129]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "-129 is out of range for int8 (-128 to 127)"},
		{name: "an integer beyond 64 bits is out of range",
			sig: decOne(tensor.Int64, -1), body: `{"inputs": {"v": [99999999999999999999999]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "out of range for int64"},
		{name: "a fraction for an integer dtype",
			sig: decOne(tensor.Int64, -1), body: `{"inputs": {"v": [1, 1.5]}}`,
			status: 422, fields: []string{"inputs.v[1]"}, msg: "expected an integer, got 1.5"},
		{name: "an exponent for an integer dtype",
			sig: decOne(tensor.Int32, -1), body: `{"inputs": {"v": [1e3]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "expected an integer, got 1e3"},
		{name: "a finite number that overflows float32",
			sig: decOne(tensor.Float32, -1), body: `{"inputs": {"v": [1e39]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "1e39 is out of range for float32"},
		{name: "a number that overflows float64",
			sig: decOne(tensor.Float64, -1), body: `{"inputs": {"v": [-1e400]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "out of range for float64"},
		{name: "a number that overflows float16 though float32 holds it",
			sig: decOne(tensor.Float16, -1), body: `{"inputs": {"v": [65520]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "out of range for float16"},
		{name: "a number that overflows bfloat16 though float32 holds it",
			sig: decOne(tensor.BFloat16, -1), body: `{"inputs": {"v": [1, 3.4e38]}}`,
			status: 422, fields: []string{"inputs.v[1]"}, msg: "out of range for bfloat16"},
		{name: "bool takes true and false only, not 0 or 1",
			sig: decOne(tensor.Bool, -1), body: `{"inputs": {"v": [true, 1]}}`,
			status: 422, fields: []string{"inputs.v[1]"}, msg: "expected true or false, got a number"},
		{name: "a boolean for a number",
			sig: decOne(tensor.Float32, -1), body: `{"inputs": {"v": [true]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "expected a number, got a boolean"},
		{name: "a number for a string input",
			sig: decOne(tensor.String, -1), body: `{"inputs": {"v": ["a", 1]}}`,
			status: 422, fields: []string{"inputs.v[1]"}, msg: "expected a string, got a number"},
		{name: "a string for an integer input",
			sig: decOne(tensor.Int16, -1), body: `{"inputs": {"v": ["1"]}}`,
			status: 422, fields: []string{"inputs.v[0]"}, msg: "expected an integer, got a string"},
		{name: "a string where a rank-1 number tensor belongs is a type error, not a rank error",
			sig: decOne(tensor.Float32, -1), body: `{"inputs": {"v": "1"}}`,
			status: 422, fields: []string{"inputs.v"}, msg: "expected an array, got a string"},
	}
}

// decodeOpt is what a model's config.yaml tells the decoder and the core.
type decodeOpt struct {
	Features []string
	MaxBatch int
}

// model is a model of signature sig configured as opt says; decoding and
// the core's checks need no session.
func (opt decodeOpt) model(sig *tensor.Signature) *runtime.Model {
	return &runtime.Model{Name: "m", Config: &runtime.Config{Features: opt.Features, MaxBatchSize: opt.MaxBatch}, Signature: *sig}
}

// decode is what predict does with a body before the model runs: decode
// it, then the core's checks, and the status and body /v1 answers an
// error with.
func decode(body string, sig *tensor.Signature, opt decodeOpt) ([]tensor.Tensor, int, Error) {
	m := opt.model(sig)
	req, f, err := decodePredict([]byte(body), m)
	if err == nil {
		err = inference.Check(m, &inference.Request{Inputs: req.inputs})
	}
	if err != nil {
		e, body := problem(err, f)
		return nil, status(e.Kind), body
	}
	return req.inputs, 0, Error{}
}

// text is an error body as one line: its message, and its first field's.
func (e Error) text() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	return e.Message + ": " + e.Details[0].Field + ": " + e.Details[0].Message
}

func TestDecodePredict(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, status, e := decode(tc.body, tc.sig, tc.opt)
			if tc.want != nil {
				if status != 0 {
					t.Fatalf("decode(%s): %d %s", tc.body, status, e.text())
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("decode(%s)\n got %s\nwant %s", tc.body, decFmt(got), decFmt(tc.want))
				}
				for i := range got {
					if err := got[i].Check(); err != nil {
						t.Errorf("tensor %d: %v", i, err)
					}
				}
				return
			}
			if status == 0 {
				t.Fatalf("decode(%s) = %v; want an error", tc.body, decFmt(got))
			}
			if status != tc.status {
				t.Errorf("status %d, want %d: %s", status, tc.status, e.text())
			}
			var fields []string
			for _, d := range e.Details {
				fields = append(fields, d.Field)
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Errorf("fields %q, want %q: %s", fields, tc.fields, e.text())
			}
			text := e.Message
			for _, d := range e.Details {
				text += "\n" + d.Message
			}
			if !strings.Contains(text, tc.msg) {
				t.Errorf("message %q does not contain %q", text, tc.msg)
			}
		})
	}
}

// TestDecodeMessages pins the exact wording of the messages the docs show.
func TestDecodeMessages(t *testing.T) {
	for _, tc := range []struct {
		sig  *tensor.Signature
		opt  decodeOpt
		body string
		want string
	}{
		{decIrisSig, decIrisOpt, `{"foo": 1}`,
			`validation failed: foo: unknown field; expected "inputs", "instances" or the features "sepal_length", "sepal_width", "petal_length", "petal_width"`},
		{decIrisSig, decodeOpt{}, `{"foo": 1}`, `validation failed: foo: unknown field; expected "inputs" or "instances"`},
		{decIrisSig, decodeOpt{}, `{"inputs": {"X": [[1, 2, 3, 4]]}} ]`,
			`malformed JSON at offset 34: expected end of input after the top-level object, got ']'`},
		{decIrisSig, decodeOpt{}, `{"inputs": {"X": [[1, 2 3, 4]]}}`,
			`malformed JSON at offset 24: expected ',' or ']', got '3'`},
		{decIrisSig, decodeOpt{}, `{"inputs": {"X": [[1, 2, 3, 4]]}`,
			`malformed JSON at offset 32: expected ',' or '}', got end of input`},
		{decMultiSig, decodeOpt{}, `{"instances": [[1, 2, 3]]}`,
			`validation failed: instances: the model has 2 inputs ("numeric", "category"); send each by name as {"inputs": {"NAME": value, ...}}`},
		{decOne(tensor.Uint64, -1), decodeOpt{}, `{"inputs": {"v": [18446744073709551616]}}`,
			`validation failed: inputs.v[0]: 18446744073709551616 is out of range for uint64 (0 to 18446744073709551615)`},
		{decOne(tensor.Int64, -1), decodeOpt{}, `{"inputs": {"v": [9223372036854775808]}}`,
			`validation failed: inputs.v[0]: 9223372036854775808 is out of range for int64 (-9223372036854775808 to 9223372036854775807)`},
	} {
		_, status, e := decode(tc.body, tc.sig, tc.opt)
		if status == 0 || e.text() != tc.want {
			t.Errorf("decode(%s)\n got %d %s\nwant %s", tc.body, status, e.text(), tc.want)
		}
	}
}

// TestDecodeManyFeatures covers models with more features than the small
// lookup handles, sent out of order.
func TestDecodeManyFeatures(t *testing.T) {
	const n = 100
	feats := make([]string, n)
	for i := range feats {
		feats[i] = fmt.Sprintf("f%d", i)
	}
	sig := decOne(tensor.Float64, -1, n)
	var b strings.Builder
	b.WriteString(`{"instances": [`)
	for row := range 2 {
		if row > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{")
		for i := n - 1; i >= 0; i-- {
			fmt.Fprintf(&b, `"f%d": %d`, i, row*n+i)
			if i > 0 {
				b.WriteString(", ")
			}
		}
		b.WriteString("}")
	}
	b.WriteString("]}")
	got, status, e := decode(b.String(), sig, decodeOpt{Features: feats})
	if status != 0 {
		t.Fatal(e.text())
	}
	want := make([]float64, 2*n)
	for i := range want {
		want[i] = float64(i)
	}
	if !reflect.DeepEqual(got[0].Data, want) || !reflect.DeepEqual(got[0].Shape, []int64{2, n}) {
		t.Fatalf("got %v %v", got[0].Shape, got[0].Data)
	}
}

// TestDecodeLargeBatch checks that the buffer estimate from the first row
// gives a correctly sized tensor whatever the rows look like.
func TestDecodeLargeBatch(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"instances": [[1, 2, 3, 4]`)
	for i := range 1000 {
		fmt.Fprintf(&b, ",[%d.123456789012345, 0, 0, %d]", i, i)
	}
	b.WriteString("]}")
	got, status, e := decode(b.String(), decIrisSig, decodeOpt{})
	if status != 0 {
		t.Fatal(e.text())
	}
	data := got[0].Data.([]float32)
	if len(data) != 1001*4 || data[4*1000+3] != 999 || got[0].Shape[0] != 1001 {
		t.Fatalf("shape %v, %d elements", got[0].Shape, len(data))
	}
}

func decFmt(ts []tensor.Tensor) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "{%v %v %#v} ", t.DType, t.Shape, t.Data)
	}
	return b.String()
}

// TestDecodeRecycled pins that the memory a request's inputs are held in,
// recycled once its answer is written (predictBody.release), leaves
// nothing behind: every case decoded again, after every case was decoded
// and released, the holds going from one model and shape to another, is
// what it was the first time.
func TestDecodeRecycled(t *testing.T) {
	cases := decodeCases()
	first := make([]string, len(cases))
	decodeOnce := func(i int) string {
		tc := cases[i]
		m := tc.opt.model(tc.sig)
		req, _, err := decodePredict([]byte(tc.body), m)
		defer req.release()
		if err != nil {
			return "error: " + err.Error()
		}
		return decFmt(req.inputs)
	}
	for i := range cases {
		first[i] = decodeOnce(i)
	}
	for round := range 2 {
		for i := range cases {
			k := i
			if round == 1 {
				k = len(cases) - 1 - i // other neighbours
			}
			if got := decodeOnce(k); got != first[k] {
				t.Errorf("%s decoded again: %s, first %s", cases[k].name, got, first[k])
			}
		}
	}
}
