package apidocs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/onnxserve/onnxserve/runtime"
)

// Error examples, one per status, as the server words them: the messages
// come from the runtime's own error types where there is one, and
// TestErrorExamples provokes each status the tests can reach on a real
// server and compares the answer with its example. A Swagger UI otherwise
// shows "string" for every error.

// exampleModel is the model the static paths' examples name, the shipped
// iris.
const exampleModel = "iris"

// examples makes the error examples of one server.
type examples struct {
	maxBodyBytes int64 // --max-body-bytes, which the 413 states
}

// messages are the answers common to /v1 and /v2, by status, for model
// (the 422 and the v2 400 are the protocols' own).
func (e examples) messages(model string) map[string]string {
	return map[string]string{
		"404": (&runtime.NotFoundError{Name: model}).Error(),
		"413": fmt.Sprintf("request body larger than %d bytes", e.maxBodyBytes),
		"500": (&runtime.RunError{Model: model, Err: errors.New("Non-zero status code returned while running Gemm node")}).Error(),
		"503": (&runtime.UnavailableError{Name: model, Err: errors.New(model + "/model.onnx: protobuf parsing failed")}).Error(),
		"504": "request deadline exceeded before the model answered: the model's request_timeout (2s) passed",
	}
}

// v1 is every /v1 error status's example body for model m (nil:
// the static iris), with the 422 of m's own first feature or inputs.
func (e examples) v1(m *runtime.Model) map[string]any {
	name := exampleModel
	detail := []any{obj{"field": "sepal_length", "message": "expected a number, got a string"}}
	if m != nil {
		name = m.Name
		if f := m.Config.Features; len(f) > 0 {
			detail = []any{obj{"field": f[0], "message": "expected a number, got a string"}}
		} else {
			detail = nil
			for _, in := range m.Signature.Inputs {
				detail = append(detail, obj{"field": "inputs." + in.Name, "message": "missing input"})
			}
		}
	}
	out := map[string]any{
		"400": obj{"error": "malformed JSON at offset 1: expected a string key, got end of input"},
		"422": obj{"error": "validation failed", "details": detail},
	}
	for status, msg := range e.messages(name) {
		out[status] = obj{"error": msg}
	}
	return out
}

// v2 is every /v2 error status's example body (iris).
func (e examples) v2() map[string]any {
	out := map[string]any{
		"400": obj{"error": "unexpected shape for input 'X' for model 'iris'. Expected [-1, 4], got [1, 3]"},
	}
	for status, msg := range e.messages(exampleModel) {
		out[status] = obj{"error": msg}
	}
	return out
}

// addErrorExamples sets the example of each error response of the static
// document's predict, infer and model paths, whose statuses mean the same
// on every one of them (the repository paths' do not: their 400 is a
// failed load, their 503 a server without explicit model control).
func (e examples) addErrorExamples(paths obj) {
	v1, v2 := e.v1(nil), e.v2()
	for path, item := range paths {
		var examples map[string]any
		switch {
		case strings.HasPrefix(path, "/v1/models/"):
			examples = v1
		case strings.HasPrefix(path, "/v2/models/"):
			examples = v2
		default:
			continue
		}
		ops, _ := item.(obj)
		for _, op := range ops {
			o, _ := op.(obj)
			responses, _ := o["responses"].(obj)
			setExamples(responses, examples)
		}
	}
}

// setExamples gives each error response in responses its status's example.
func setExamples(responses obj, examples map[string]any) {
	for status, r := range responses {
		r, _ := r.(obj)
		if ex, ok := examples[status]; ok && r != nil && status >= "400" {
			r["examples"] = obj{"application/json": ex}
		}
	}
}

// v2ParameterExamples are the examples of the v2 bodies' parameters
// objects, which a Swagger UI would otherwise fill with additionalProp1
// placeholders: what a request may send, or an empty object where the
// example body needs none.
var v2ParameterExamples = map[string]any{
	"handlers.V2InferRequest":      obj{"timeout": 200000},
	"handlers.V2RequestInput":      obj{},
	"handlers.V2RequestOutput":     obj{"classification": 2},
	"handlers.V2ResponseOutput":    obj{},
	"handlers.V2RepositoryRequest": obj{},
}

func addParameterExamples(defs obj) {
	for name, ex := range v2ParameterExamples {
		def, _ := defs[name].(obj)
		props, _ := def["properties"].(obj)
		if p, ok := props["parameters"].(obj); ok {
			p["example"] = ex
		}
	}
}
