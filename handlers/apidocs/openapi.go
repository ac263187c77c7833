package apidocs

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/onnxserve/onnxserve/docs"
	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// spec is the API documentation the Swagger UI reads, one Swagger 2.0
// document per selectable definition (Swagger UI's `urls`): the index at
// /swagger/doc.json is swag's static part (docs/, generated from the
// annotations), and every loaded model has a document of its own at
// /swagger/models/NAME/doc.json with its predict path and the request and
// response schemas built from its signature and config.yaml. A user who
// opens iris downloads iris, not every model's schemas. All of it is
// rebuilt, and gzipped once, when the repository's set of models changes.
type spec struct {
	core         *inference.Core
	secured      bool
	maxBodyBytes int64

	mu         sync.Mutex
	generation uint64
	docs       *docSet
}

// docSet is one generation's documents, each as served and gzipped.
type docSet struct {
	index       rest.Precompressed
	models      map[string]rest.Precompressed // by model name
	initializer []byte                        // swagger-initializer.js
}

func (d *spec) get() *docSet {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g := d.core.Generation(); g != d.generation || d.docs == nil {
		d.docs = buildDocs(d.core.Models(), d.secured, d.maxBodyBytes)
		d.generation = g
	}
	return d.docs
}

type obj = map[string]any

// modelDocPath is where a model's own document is served, relative to
// /swagger/.
func modelDocPath(name string) string { return "models/" + url.PathEscape(name) + "/doc.json" }

func buildDocs(models []runtime.ModelStatus, secured bool, maxBodyBytes int64) *docSet {
	ex := examples{maxBodyBytes: maxBodyBytes}
	static := staticDoc(ex)
	if secured {
		secure(static)
	}
	set := &docSet{models: map[string]rest.Precompressed{}}
	urls := []any{obj{"name": indexName, "url": "doc.json"}}
	for _, st := range models {
		if len(st.Versions) == 0 {
			continue
		}
		m := st.Versions[len(st.Versions)-1]
		doc := modelDoc(m, static, ex)
		if secured {
			secure(doc)
		}
		set.models[m.Name] = rest.Precompress(marshalDoc(doc))
		urls = append(urls, obj{"name": modelTag(m.Name), "url": modelDocPath(m.Name)})
	}
	set.index = rest.Precompress(marshalDoc(static))
	set.initializer = initializerJS(urls)
	return set
}

// indexName is the index document's name in the UI's definition selector.
const indexName = "onnxserve API"

func modelTag(name string) string { return "model: " + name }

// staticDoc is swag's document, valid Swagger 2.0.
func staticDoc(ex examples) obj {
	var doc obj
	if err := json.Unmarshal([]byte(docs.SwaggerInfo.ReadDoc()), &doc); err != nil {
		panic(fmt.Sprintf("docs/ holds invalid JSON: %v", err)) // generated code; a test pins it
	}
	paths, _ := doc["paths"].(obj)
	defs, _ := doc["definitions"].(obj)
	swagger2Fixups(doc, paths)
	ex.addErrorExamples(paths)
	addParameterExamples(defs)
	return doc
}

// modelDoc is m's own document: its predict path, typed by its signature
// and config.yaml, and the definitions that path refers to (the error
// body's from the static document).
func modelDoc(m *runtime.Model, static obj, ex examples) obj {
	tag := modelTag(m.Name)
	staticDefs, _ := static["definitions"].(obj)
	defs := obj{
		m.Name + ".Request":  requestSchema(m),
		m.Name + ".Response": responseSchema(m),
	}
	for _, name := range []string{"handlers.Error", "handlers.Detail"} {
		if d, ok := staticDefs[name]; ok {
			defs[name] = d
		}
	}
	info, _ := static["info"].(obj)
	doc := obj{
		"swagger": "2.0",
		"info": obj{
			"title":       "onnxserve: " + m.Name,
			"version":     m.Version,
			"description": modelDescription(m),
			"contact":     info["contact"],
		},
		"basePath": "/",
		"tags":     []any{obj{"name": tag, "description": modelDescription(m)}},
		"paths": obj{"/v1/models/" + m.Name + "/predict": obj{"post": obj{
			"tags":        []any{tag},
			"summary":     "Predict with " + m.Name,
			"description": modelDescription(m),
			"operationId": "predict_" + m.Name,
			"consumes":    []any{"application/json"},
			"produces":    produces(m),
			"parameters": []any{
				obj{
					"in": "body", "name": "request", "required": true,
					"schema": obj{"$ref": "#/definitions/" + m.Name + ".Request"},
				},
				obj{
					"in": "query", "name": "outputs", "type": "array", "collectionFormat": "csv",
					"items":       obj{"type": "string", "enum": toAny(outputNames(m))},
					"description": "the outputs to return, in this order (default: every output); or \"outputs\" in the body",
				},
			},
			"responses": modelResponses(m, ex),
		}}},
		"definitions": defs,
	}
	if op := filesOperation(m, tag, ex); op != nil {
		doc["paths"].(obj)["/v1/models/"+m.Name+"/versions/"+m.Version+"/predict"] = obj{"post": op}
	}
	return doc
}

// filesOperation is the predict of a model with image inputs, taking
// image files, with a file picker per image input: shown on the version's
// path, which is the same predict, since Swagger 2.0 documents a JSON body
// or form fields on one operation, never both. nil for a model without
// image inputs.
func filesOperation(m *runtime.Model, tag string, ex examples) obj {
	var params []any
	for _, in := range m.Signature.Inputs {
		s, ok := m.ImageInput(in.Name)
		if !ok {
			continue
		}
		params = append(params, obj{
			"in": "formData", "name": in.Name, "type": "file", "required": true,
			"description": fmt.Sprintf("a PNG or JPEG image, made %s %dx%d (height x width) and laid out %s into input %s; send several files in this field for a batch", s.Channels, s.H, s.W, s.Layout, in.Name),
		})
	}
	if params == nil {
		return nil
	}
	params = append(params, obj{
		"in": "formData", "name": "outputs", "type": "string",
		"description": "the outputs to return, comma-separated (default: every output)",
	})
	return obj{
		"tags":        []any{tag},
		"summary":     "Predict with " + m.Name + " from image files",
		"description": "The predict of version " + m.Version + ", which, like `/v1/models/" + m.Name + "/predict`, takes JSON or image files (multipart/form-data); here with a file picker. A file that is not a PNG or JPEG image is a 422 naming it.",
		"operationId": "predict_files_" + m.Name,
		"consumes":    []any{"multipart/form-data"},
		"produces":    produces(m),
		"parameters":  params,
		"responses":   modelResponses(m, ex),
	}
}

// modelResponses are m's predict path's answers, each error with an
// example of its own.
func modelResponses(m *runtime.Model, ex examples) obj {
	r := obj{
		"200": obj{"description": "the model's outputs", "schema": obj{"$ref": "#/definitions/" + m.Name + ".Response"}},
		"400": errorResponse("malformed JSON or empty body"),
		"404": errorResponse("the model is no longer served (unloaded since this page was built)"),
		"413": errorResponse("body too large (--max-body-bytes)"),
		"422": errorResponse("the body does not fit the model; details name each field"),
		"500": errorResponse("ONNX Runtime failed"),
		"503": errorResponse("the model failed to load, or its queue (max_queue_size) is full (with Retry-After)"),
		"504": errorResponse("the request's deadline (--request-timeout, the model's request_timeout) passed"),
	}
	setExamples(r, ex.v1(m))
	return r
}

func marshalDoc(doc obj) []byte {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // built from JSON values only
	}
	return b
}

// initializerJS is the Swagger UI's start-up script: the index and every
// model as a definition of the selector, the index first. A model is
// opened directly with ?urls.primaryName=model: NAME. The JSONValues
// plugin replaces the UI's Property component, which writes a schema's
// example with String() and so shows objects as "OrderedMap {...}" (the
// UI's Immutable.js types) in the Model tab: it writes them as JSON.
func initializerJS(urls []any) []byte {
	return []byte(`function JSONValues(system) {
  const h = system.React.createElement;
  return { components: { Property: ({ propKey, propVal, propClass }) =>
    h("span", { className: propClass }, h("br", null), propKey, ": ",
      propVal && typeof propVal.toJS === "function" ? JSON.stringify(propVal.toJS()) : String(propVal)) } };
}
window.onload = function() {
  window.ui = SwaggerUIBundle({
    urls: ` + string(mustMarshal(urls)) + `,
    dom_id: '#swagger-ui',
    validatorUrl: null,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl, JSONValues],
    layout: "StandaloneLayout",
    defaultModelsExpandDepth: 1
  });
};
`)
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
func secure(doc obj) {
	paths, _ := doc["paths"].(obj)
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
			need, _ := policy.HTTP(strings.ToUpper(method), ginPattern(path))
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
		if isImage(m, out.Name) {
			b.WriteString(" (an image: ask for a PNG with `Accept: image/png`, the response content type here, and one row)")
		}
	}
	if m.Config.MaxBatchSize > 0 {
		fmt.Fprintf(&b, "\n\nAt most %d rows per request.", m.Config.MaxBatchSize)
	}
	for _, in := range shortened(m) {
		fmt.Fprintf(&b, "\n\nThe example of `%s` is shortened to one value per dimension; a request sends its full shape %s, %d values a row.",
			in.Name, tensor.FormatShape(in.Shape), rowValues(in.Shape))
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
		if !slices.Contains(f, "outputs") {
			props["outputs"] = outputsSchema(m)
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
		"properties": obj{"inputs": obj{"type": "object", "properties": props, "required": required}, "outputs": outputsSchema(m)},
		"example":    example(m),
	}
}

func isImage(m *runtime.Model, output string) bool {
	o, ok := m.Config.Outputs[output]
	return ok && o.Image != nil
}

// produces is JSON, and PNG for a model with an image output.
func produces(m *runtime.Model) []any {
	for _, out := range m.Signature.Outputs {
		if isImage(m, out.Name) {
			return []any{"application/json", "image/png"}
		}
	}
	return []any{"application/json"}
}

// outputsSchema is the body's "outputs", the outputs to return.
func outputsSchema(m *runtime.Model) obj {
	return obj{"type": "array", "items": obj{"type": "string", "enum": toAny(outputNames(m))},
		"description": "the outputs to return, in this order (default: every output); or the query parameter outputs"}
}

func outputNames(m *runtime.Model) []string { return tensor.Names(m.Signature.Outputs) }

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

// tensorSchema is a nested array schema, one level per dimension, with
// the shape stated in its description. Fixed dimensions are not
// minItems/maxItems: a Swagger UI builds its samples to them, and a
// [1, 3, 1024, 1024] tensor is three million numbers in the page.
func tensorSchema(spec tensor.TensorSpec) obj {
	desc := fmt.Sprintf("%v tensor of shape %s (-1: any size)", spec.DType, tensor.FormatShape(spec.Shape))
	if spec.DType == tensor.MapSequence {
		return obj{"type": "array", "description": "one {label: score} object per row",
			"items": obj{"type": "object", "additionalProperties": obj{"type": "number"}}}
	}
	s := obj{"type": jsonType(spec.DType)}
	for range spec.Shape {
		s = obj{"type": "array", "items": s}
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
	inputs := orderedObject(tensor.Names(m.Signature.Inputs), func(name string) any {
		return zeros(m.Signature.Inputs[m.Signature.Input(name)])
	})
	return orderedObject([]string{"inputs"}, func(string) any { return inputs })
}

// fullExampleMax is the most values a generated example holds: a tensor
// with more per row is shown shortened (see zeros), so the spec's size
// does not grow with the model's tensors.
const fullExampleMax = 256

// zeros is one batch row of a tensor of zeros ("" or false for strings and
// bools), nested by shape with dynamic dimensions set to 1. A row of more
// than fullExampleMax values is shortened to one value per dimension,
// which tells the nesting but not the size; the schema's description
// states the true shape.
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
	short := rowValues(in.Shape) > fullExampleMax
	for i := len(in.Shape) - 1; i >= 0; i-- {
		n := max(in.Shape[i], 1)
		if short {
			n = 1
		}
		a := make([]any, n)
		for j := range a {
			a[j] = v
		}
		v = a
	}
	return v
}

// rowValues is the number of values in one batch row of shape, dynamic
// dimensions counted as 1.
func rowValues(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= max(d, 1)
	}
	return n
}

// shortened lists the inputs whose generated example is shortened.
func shortened(m *runtime.Model) []tensor.TensorSpec {
	var out []tensor.TensorSpec
	if m.Config.Example != nil || len(m.Config.Features) > 0 {
		return nil
	}
	for _, in := range m.Signature.Inputs {
		if rowValues(in.Shape) > fullExampleMax {
			out = append(out, in)
		}
	}
	return out
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
