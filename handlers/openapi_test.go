package handlers_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

// TestSpecDescribesEveryModel pins the served Swagger document: every
// model has its own predict path whose request schema names its features
// or inputs with their shapes, and whose example, sent as is, is accepted
// by the model, so "Try it out" works as prefilled.
func TestSpecDescribesEveryModel(t *testing.T) {
	srv := shippedServer(t)
	res := do(t, "GET", srv.URL+"/swagger/doc.json", "")
	if res.Status != 200 {
		t.Fatalf("doc.json: %d", res.Status)
	}
	var doc struct {
		Swagger     string                                `json:"swagger"`
		Paths       map[string]map[string]json.RawMessage `json:"paths"`
		Definitions map[string]struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
			Example    json.RawMessage            `json:"example"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" {
		t.Errorf("swagger %q", doc.Swagger)
	}
	for _, path := range []string{"/healthz", "/readyz", "/v1/models", "/v1/models/{name}", "/v1/models/{name}/predict"} {
		if doc.Paths[path] == nil {
			t.Errorf("static path %s missing", path)
		}
	}
	for _, c := range []struct {
		model    string
		required string
		mentions []string
	}{
		{"iris", "sepal_length,sepal_width,petal_length,petal_width", []string{"setosa", "[-1, 4]"}},
		{"digits", "inputs", []string{`"maxItems":64`, "[-1, 64]"}},
		{"tabular", "inputs", []string{`"numeric"`, `"category"`, "integer"}},
	} {
		path := "/v1/models/" + c.model + "/predict"
		op, ok := doc.Paths[path]["post"]
		if !ok {
			t.Errorf("%s: no POST", path)
			continue
		}
		def := doc.Definitions[c.model+".Request"]
		if strings.Join(def.Required, ",") != c.required {
			t.Errorf("%s request requires %v, want %s", c.model, def.Required, c.required)
		}
		all := string(op) + mustJSON(doc.Definitions[c.model+".Request"]) + mustJSON(doc.Definitions[c.model+".Response"])
		for _, m := range c.mentions {
			if !strings.Contains(all, m) {
				t.Errorf("%s: docs do not mention %s", c.model, m)
			}
		}
		ex := do(t, "POST", srv.URL+path, string(def.Example))
		if ex.Status != 200 {
			t.Errorf("%s: the documented example gets %d: %s", c.model, ex.Status, ex.Body)
		}
		if c.model == "iris" && !strings.Contains(string(ex.Body), `"label":"setosa"`) {
			t.Errorf("iris example does not predict setosa: %s", ex.Body)
		}
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestSpecGolden pins the whole served document for the shipped models, so
// any change to the API docs, static or per model, shows up in review as a
// diff of testdata/openapi.golden.json (regenerate with -update).
func TestSpecGolden(t *testing.T) {
	srv := shippedServer(t)
	got := do(t, "GET", srv.URL+"/swagger/doc.json", "").Body
	const golden = "testdata/openapi.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("served spec differs from %s; if the change is intended, run: go test ./handlers -run TestSpecGolden -update", golden)
	}
}
