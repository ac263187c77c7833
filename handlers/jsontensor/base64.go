package jsontensor

import (
	"encoding/base64"
	"unicode/utf8"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Base64 is the content type of a string tensor written by AppendBase64,
// as MLServer's Base64Codec names it ("content_type": "base64"), so that
// its clients decode it as they are.
const Base64 = "base64"

// NeedsBase64 is true for a string tensor with an element that is not
// valid UTF-8: JSON strings cannot carry it (AppendString would write
// U+FFFD in its place), so the tensor is written with AppendBase64 instead,
// and the answer says so. Every front end writing JSON asks here.
func NeedsBase64(t tensor.Tensor) bool {
	d, ok := t.Data.([]string)
	if !ok {
		return false
	}
	for _, s := range d {
		if !utf8.ValidString(s) {
			return true
		}
	}
	return false
}

// AppendBase64 writes a string tensor as nested JSON arrays, as
// AppendTensor does, of its elements' exact bytes in standard, padded
// base64 (RFC 4648 §4).
func AppendBase64(b []byte, t tensor.Tensor) []byte {
	d, _ := t.Data.([]string)
	return appendNested(b, t.Shape, d, func(b []byte, s string) []byte {
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, []byte(s))
		return append(b, '"')
	})
}
