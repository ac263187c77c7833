// Package jsontensor is onnxserve's hand-written JSON codec for tensors,
// pure Go: it imports neither gin nor ONNX Runtime, so that it can be
// tested and fuzzed on its own.
package jsontensor
