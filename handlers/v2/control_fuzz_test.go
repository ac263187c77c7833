package v2

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
)

// FuzzControlBody feeds bodies of the model repository's load and unload
// requests to their decoder, as control reads them: it must not panic,
// what it accepts must be JSON that encoding/json takes too (or nothing),
// and the parameters it finds must be the keys of the body's
// "parameters" object as encoding/json reads them.
func FuzzControlBody(f *testing.F) {
	f.Add(``)
	f.Add(`{}`)
	f.Add(`{"parameters": {"config": "{\"backend\": \"onnxruntime\"}"}}`)
	f.Add(`{"parameters": {"unload_dependents": true}, "model_name": "iris"}`)
	f.Add(`{"parameters": {"file:1/model.onnx": "AAAA", "config": "{}"}}`)
	f.Add(`{"parameters": []}`)
	a := &API{env: &rest.Env{Core: inference.New(inference.Options{}), MaxBodyBytes: 1 << 16, Buffers: &rest.Buffers{}}}
	f.Fuzz(func(t *testing.T, body string) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/", strings.NewReader(body))
		var params []string
		err := a.controlBody(c, parameterKeys(&params))
		if err != nil {
			return
		}
		if strings.TrimSpace(body) == "" {
			if len(params) > 0 {
				t.Fatalf("an empty body gave parameters %q", params)
			}
			return
		}
		var doc map[string]json.RawMessage
		if jerr := json.Unmarshal([]byte(body), &doc); jerr != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, jerr)
		}
		var want map[string]json.RawMessage
		if raw, ok := doc["parameters"]; ok {
			if jerr := json.Unmarshal(raw, &want); jerr != nil {
				t.Fatalf("accepted parameters %s, which encoding/json refuses: %v", raw, jerr)
			}
		}
		for _, p := range params {
			if _, ok := want[p]; !ok {
				t.Fatalf("parameter %q is not a key of %s", p, doc["parameters"])
			}
		}
		if len(want) > 0 && len(slices.Compact(slices.Sorted(slices.Values(params)))) != len(want) {
			t.Fatalf("parameters %q, want the keys of %s", params, doc["parameters"])
		}
	})
}
