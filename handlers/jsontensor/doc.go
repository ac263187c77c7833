// Package jsontensor is onnxserve's hand-written JSON codec: a tokenizer
// with a fast number parser, readers that append a tensor's elements
// straight into a typed buffer while checking its shape, and writers of
// tensors and strings. No encoding/json, no []any, no per-row slices: on
// small models that machinery would cost more than the model run.
//
// It knows JSON and tensors, not protocols: the request grammars of /v1
// and /v2 (packages handlers/v1 and handlers/v2) drive it, name the fields in its errors, and
// map an Error to their own statuses and wording.
package jsontensor
