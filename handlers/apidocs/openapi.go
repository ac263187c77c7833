package apidocs

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/onnxserve/onnxserve/docs"
	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// spec is the Swagger document served at /swagger/doc.json: swag's
// static part (docs/, generated from the annotations) plus, for every
// loaded model, its own predict path with request and response schemas
// built from its signature and config.yaml. It is rebuilt when the
// repository's set of models changes.
type spec struct {
	core    *inference.Core
	secured bool

	mu         sync.Mutex
	generation uint64
	doc        []byte
}

func (d *spec) get() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g := d.core.Generation(); g != d.generation || d.doc == nil {
		d.doc = buildDoc(d.core.Models(), d.secured)
		d.generation = g
	}
	return d.doc
}

type obj = map[string]any

func buildDoc(models []runtime.ModelStatus, secured bool) []byte {
	var doc obj
	if err := json.Unmarshal([]byte(docs.SwaggerInfo.ReadDoc()), &doc); err != nil {
		panic(fmt.Sprintf("docs/ holds invalid JSON: %v", err)) // generated code; a test pins it
	}
	paths, _ := doc["paths"].(obj)
	defs, _ := doc["definitions"].(obj)
	if defs == nil {
		defs = obj{}
		doc["definitions"] = defs
	}
	swagger2Fixups(doc, paths)
	var tags []any
	for _, st := range models {
		if len(st.Versions) == 0 {
			continue
		}
		m := st.Versions[len(st.Versions)-1]
		tag := "model: " + m.Name
		tags = append(tags, obj{"name": tag, "description": modelDescription(m)})
		defs[m.Name+".Request"] = requestSchema(m)
		defs[m.Name+".Response"] = responseSchema(m)
		paths["/v1/models/"+m.Name+"/predict"] = obj{"post": obj{
			"tags":        []any{tag},
			"summary":     "Predict with " + m.Name,
			"description": modelDescription(m),
			"operationId": "predict_" + m.Name,
			"consumes":    []any{"application/json"},
			"produces":    []any{"application/json"},
			"parameters": []any{obj{
				"in": "body", "name": "request", "required": true,
				"schema": obj{"$ref": "#/definitions/" + m.Name + ".Request"},
			}},
			"responses": obj{
				"200": obj{"description": "the model's outputs", "schema": obj{"$ref": "#/definitions/" + m.Name + ".Response"}},
				"400": errorResponse("malformed JSON or empty body"),
				"413": errorResponse("body too large"),
				"422": errorResponse("the body does not fit the model; details name each field"),
				"500": errorResponse("ONNX Runtime failed"),
			},
		}}
	}
	if existing, ok := doc["tags"].([]any); ok {
		tags = append(tags, existing...)
	}
	if secured {
		secure(doc, paths)
	}
	doc["tags"] = tags
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // built from JSON values only
	}
	return b
}

// swagger2Fixups makes swag's output valid Swagger 2.0 (the e2e test runs
// a validator on /swagger/doc.json): an empty host is not allowed (without
// one the UI calls the host that served it), nor is `example` on a non-body
// parameter, which swag emits for example(...); Swagger UI prefills "Try it
// out" from `x-example` there instead.
func swagger2Fixups(doc, paths obj) {
	if h, _ := doc["host"].(string); h == "" {
		delete(doc, "host")
	}
	for _, item := range paths {
		ops, _ := item.(obj)
		for _, op := range ops {
			o, _ := op.(obj) // not an operation: e.g. path-level "parameters"
			params, _ := o["parameters"].([]any)
			for _, p := range params {
				if p, ok := p.(obj); ok && p["in"] != "body" && p["example"] != nil {
					p["x-example"] = p["example"]
					delete(p, "example")
				}
			}
		}
	}
}

// secure declares the two ways a key is sent, and on every operation that
// needs one, which scope and the refusals; what needs a key is auth's
// table, not a second copy of it in annotations. X-API-Key comes first:
// in the UI's Authorize dialog it takes the bare key, Authorization takes
// "Bearer KEY".
func secure(doc, paths obj) {
	doc["securityDefinitions"] = obj{
		"APIKey": obj{"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "an API key"},
		"Bearer": obj{"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Bearer KEY`"},
	}
	policy := auth.NewPolicy()
	for path, item := range paths {
		ops, _ := item.(obj)
		for method, op := range ops {
			o, ok := op.(obj)
			if !ok {
				continue
			}
			need, ok := policy.HTTP(strings.ToUpper(method), ginPattern(path))
			if !ok {
				need = auth.Fallback
			}
			if need == auth.Open {
				continue
			}
			o["security"] = []any{obj{"APIKey": []any{}}, obj{"Bearer": []any{}}}
			desc, _ := o["description"].(string)
			o["description"] = strings.TrimSpace(desc + "\n\nNeeds an API key of scope `" + need.String() + "`.")
			if responses, ok := o["responses"].(obj); ok {
				// In the error form of the route's protocol.
				schema := "#/definitions/handlers.Error"
				if strings.HasPrefix(path, "/v2") {
					schema = "#/definitions/handlers.V2Error"
				}
				responses["401"] = obj{"description": "no API key, or one the server does not know", "schema": obj{"$ref": schema}}
				responses["403"] = obj{"description": "the API key lacks the scope", "schema": obj{"$ref": schema}}
			}
		}
	}
}

// ginPattern is the route pattern of a spec path: /v1/models/{name} is
// /v1/models/:name, and a model's own /v1/models/iris/predict is the
// predict route's.
func ginPattern(path string) string {
	if rest, ok := strings.CutPrefix(path, "/v1/models/"); ok && strings.HasSuffix(rest, "/predict") && !strings.Contains(rest, "{") {
		return "/v1/models/:name/predict"
	}
	var b strings.Builder
	for part := range strings.SplitSeq(path, "/") {
		if part == "" {
			continue
		}
		b.WriteByte('/')
		if name, ok := strings.CutPrefix(part, "{"); ok {
			b.WriteString(":" + strings.TrimSuffix(name, "}"))
		} else {
			b.WriteString(part)
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

func errorResponse(desc string) obj {
	return obj{"description": desc, "schema": obj{"$ref": "#/definitions/handlers.Error"}}
}

// modelDescription is what a product engineer who never saw the model needs.
func modelDescription(m *runtime.Model) string {
	var b strings.Builder
	if m.Config.Description != "" {
		b.WriteString(m.Config.Description + "\n\n")
	}
	fmt.Fprintf(&b, "Version %s.", m.Version)
	if len(m.Config.Features) > 0 {
		fmt.Fprintf(&b, " Features, in order: `%s`.", strings.Join(m.Config.Features, "`, `"))
	}
	if len(m.Config.Labels) > 0 {
		fmt.Fprintf(&b, " Labels: `%s`.", strings.Join(m.Config.Labels, "`, `"))
	}
	b.WriteString("\n\nInputs:")
	for _, in := range m.Signature.Inputs {
		fmt.Fprintf(&b, "\n- `%s`: %v, shape %s", in.Name, in.DType, tensor.FormatShape(in.Shape))
	}
	b.WriteString("\n\nOutputs:")
	for _, out := range m.Signature.Outputs {
		fmt.Fprintf(&b, "\n- `%s`: %v, shape %s", out.Name, out.DType, tensor.FormatShape(out.Shape))
	}
	if m.Config.MaxBatchSize > 0 {
		fmt.Fprintf(&b, "\n\nAt most %d rows per request.", m.Config.MaxBatchSize)
	}
	return b.String()
}

func requestSchema(m *runtime.Model) obj {
	if f := m.Config.Features; len(f) > 0 {
		props := obj{}
		required := make([]any, len(f))
		in := m.Signature.Inputs[0]
		for i, name := range f {
			props[name] = obj{"type": jsonType(in.DType), "description": fmt.Sprintf("column %d of input %s (%v)", i, in.Name, in.DType)}
			required[i] = name
		}
		s := obj{
			"type": "object", "properties": props, "required": required,
			"description": "One row as named features. For several rows send {\"instances\": [{...}, {...}]}; rows as arrays: {\"instances\": [[...]]}; or the raw tensor: {\"inputs\": {\"" + in.Name + "\": [[...]]}}.",
		}
		s["example"] = example(m)
		return s
	}
	props := obj{}
	var required []any
	for _, in := range m.Signature.Inputs {
		props[in.Name] = tensorSchema(in)
		required = append(required, in.Name)
	}
	return obj{
		"type": "object", "required": []any{"inputs"},
		"properties": obj{"inputs": obj{"type": "object", "properties": props, "required": required}},
		"example":    example(m),
	}
}

func responseSchema(m *runtime.Model) obj {
	props := obj{}
	for _, out := range m.Signature.Outputs {
		props[out.Name] = tensorSchema(out)
	}
	s := obj{"type": "object", "properties": obj{
		"model":   obj{"type": "string", "example": m.Name},
		"version": obj{"type": "string", "example": m.Version},
		"outputs": obj{"type": "object", "properties": props},
	}}
	if len(m.Config.Labels) > 0 {
		scores := obj{}
		for _, l := range m.Config.Labels {
			scores[l] = obj{"type": "number"}
		}
		s["properties"].(obj)["predictions"] = obj{"type": "array", "items": obj{
			"type": "object", "properties": obj{
				"label":  obj{"type": "string", "enum": toAny(m.Config.Labels)},
				"scores": obj{"type": "object", "properties": scores},
			},
		}}
	}
	return s
}

// tensorSchema is a nested array schema whose fixed dimensions become
// minItems/maxItems, so the docs state the shape a client must send.
func tensorSchema(spec tensor.TensorSpec) obj {
	desc := fmt.Sprintf("%v tensor of shape %s (-1: any size)", spec.DType, tensor.FormatShape(spec.Shape))
	if spec.DType == tensor.MapSequence {
		return obj{"type": "array", "description": "one {label: score} object per row",
			"items": obj{"type": "object", "additionalProperties": obj{"type": "number"}}}
	}
	s := obj{"type": jsonType(spec.DType)}
	for i := len(spec.Shape) - 1; i >= 0; i-- {
		a := obj{"type": "array", "items": s}
		if d := spec.Shape[i]; d >= 0 {
			a["minItems"], a["maxItems"] = d, d
		}
		s = a
	}
	s["description"] = desc
	return s
}

func jsonType(d tensor.DType) string {
	switch {
	case d.IsFloat():
		return "number"
	case d.IsInteger():
		return "integer"
	case d == tensor.Bool:
		return "boolean"
	}
	return "string"
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// example is config.yaml's example, or else a valid body of one row of
// zeros, so "Try it out" always starts from something the model accepts.
// Named features are written in the model's column order, not sorted as a
// Go map would be, so the prefilled body reads like the feature list.
func example(m *runtime.Model) json.RawMessage {
	if f := m.Config.Features; len(f) > 0 {
		values := m.Config.Example
		if values == nil {
			values = obj{}
		}
		return orderedObject(f, func(name string) any {
			if v, ok := values[name]; ok {
				return v
			}
			return 0
		})
	}
	if m.Config.Example != nil {
		return mustMarshal(m.Config.Example)
	}
	names := make([]string, len(m.Signature.Inputs))
	for i, in := range m.Signature.Inputs {
		names[i] = in.Name
	}
	inputs := orderedObject(names, func(name string) any {
		return zeros(m.Signature.Inputs[m.Signature.Input(name)])
	})
	return orderedObject([]string{"inputs"}, func(string) any { return inputs })
}

// zeros is one batch row of a tensor of zeros ("" or false for strings and
// bools), nested by shape with dynamic dimensions set to 1.
func zeros(in tensor.TensorSpec) any {
	var v any
	switch {
	case in.DType == tensor.String:
		v = ""
	case in.DType == tensor.Bool:
		v = false
	default:
		v = 0
	}
	for i := len(in.Shape) - 1; i >= 0; i-- {
		a := make([]any, max(in.Shape[i], 1))
		for j := range a {
			a[j] = v
		}
		v = a
	}
	return v
}

func orderedObject(keys []string, value func(string) any) json.RawMessage {
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, mustMarshal(k)...)
		b = append(b, ':')
		b = append(b, mustMarshal(value(k))...)
	}
	return append(b, '}')
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal docs example: %v", err)) // YAML/JSON values only
	}
	return b
}
