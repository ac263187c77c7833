package handlers_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// modelDoc is the part of a model's own spec the tests read.
type modelDoc struct {
	Swagger     string                                `json:"swagger"`
	Paths       map[string]map[string]json.RawMessage `json:"paths"`
	Definitions map[string]struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
		Example    json.RawMessage            `json:"example"`
	} `json:"definitions"`
}

func getDoc(t *testing.T, url string) (modelDoc, []byte) {
	t.Helper()
	res := do(t, "GET", url, "")
	if res.Status != 200 {
		t.Fatalf("%s: %d", url, res.Status)
	}
	var doc modelDoc
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" {
		t.Errorf("%s: swagger %q", url, doc.Swagger)
	}
	return doc, res.Body
}

// TestSpecDescribesEveryModel pins the served Swagger documents: the index
// at /swagger/doc.json has the static API and no model's schemas, and
// every model has a spec of its own, listed in the UI's definition
// selector, whose predict path's request schema names its features or
// inputs with their shapes, and whose example, sent as is, is accepted by
// the model, so "Try it out" works as prefilled.
func TestSpecDescribesEveryModel(t *testing.T) {
	srv := shippedServer(t)
	index, _ := getDoc(t, srv.URL+"/swagger/doc.json")
	for _, path := range []string{"/healthz", "/readyz", "/v1/models", "/v1/models/{name}", "/v1/models/{name}/predict"} {
		if index.Paths[path] == nil {
			t.Errorf("static path %s missing", path)
		}
	}
	for name := range index.Definitions {
		if !strings.HasPrefix(name, "handlers.") {
			t.Errorf("the index holds a model's definition %s", name)
		}
	}
	init := string(do(t, "GET", srv.URL+"/swagger/swagger-initializer.js", "").Body)
	for _, c := range []struct {
		model    string
		required string
		mentions []string
	}{
		{"iris", "sepal_length,sepal_width,petal_length,petal_width", []string{"setosa", "[-1, 4]"}},
		{"digits", "inputs", []string{"[-1, 64]", "float32 tensor"}},
		{"tabular", "inputs", []string{`"numeric"`, `"category"`, "integer"}},
	} {
		if !strings.Contains(init, `{"name":"model: `+c.model+`","url":"models/`+c.model+`/doc.json"}`) {
			t.Errorf("the UI's selector does not list %s:\n%s", c.model, init)
		}
		doc, _ := getDoc(t, srv.URL+"/swagger/models/"+c.model+"/doc.json")
		// An image model's version path shows predict with image files
		// (Swagger 2.0 has no body and form fields on one operation).
		wantPaths := 1
		if c.model == "digits" {
			wantPaths = 2
			if _, ok := doc.Paths["/v1/models/digits/versions/1/predict"]["post"]; !ok {
				t.Errorf("digits: no predict with image files")
			}
		}
		if len(doc.Paths) != wantPaths {
			t.Errorf("%s's spec has %d paths, want %d", c.model, len(doc.Paths), wantPaths)
		}
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
	if res := do(t, "GET", srv.URL+"/swagger/models/nope/doc.json", ""); res.Status != 404 {
		t.Errorf("the spec of a model not served: %d %s", res.Status, res.Body)
	}
}

// TestSpecSizeIndependentOfTensors pins that a model's spec does not grow
// with its tensors: the e2e-only model large takes a [-1, 3, 1024, 1024]
// input (3,145,728 values a row), and its spec stays a few KB, states the
// shape in text, has no minItems/maxItems (from which a Swagger UI builds
// full-size samples) and says that its example is shortened.
func TestSpecSizeIndependentOfTensors(t *testing.T) {
	srv, _ := servertest.Start(t, "../e2e/models", servertest.Options{})
	doc, body := getDoc(t, srv.URL+"/swagger/models/large/doc.json")
	if len(body) > 16<<10 {
		t.Errorf("large's spec is %d bytes", len(body))
	}
	for _, s := range []string{"minItems", "maxItems"} {
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("large's spec has %s", s)
		}
	}
	for _, s := range []string{"[-1, 3, 1024, 1024]", "shortened to one value per dimension", "3145728 values a row"} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("large's spec does not say %q", s)
		}
	}
	var ex bytes.Buffer
	if err := json.Compact(&ex, doc.Definitions["large.Request"].Example); err != nil || ex.String() != `{"inputs":{"image":[[[[0]]]]}}` {
		t.Errorf("large's example %s (%v)", ex.String(), err)
	}
}

// TestSpecGzip pins that the specs are gzipped for a client that accepts
// it, from GzipMinBytes on (the index is above it), and sent as is to one
// that does not.
func TestSpecGzip(t *testing.T) {
	srv := shippedServer(t)
	get := func(url, accept string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", url, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		res, err := http.DefaultTransport.RoundTrip(req) // no transparent gunzip
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	_, plain := get(srv.URL+"/swagger/doc.json", "")
	for _, c := range []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"br, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"*", true},
		{"identity", false},
	} {
		res, b := get(srv.URL+"/swagger/doc.json", c.accept)
		if got := res.Header.Get("Content-Encoding") == "gzip"; got != c.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v", c.accept, got)
			continue
		}
		if c.gzip {
			if len(b) > len(plain)/4 {
				t.Errorf("the gzipped index is %d bytes of %d", len(b), len(plain))
			}
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(zr)
		}
		if !bytes.Equal(b, plain) {
			t.Errorf("Accept-Encoding %q: the body differs from the plain one", c.accept)
		}
		if res.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", c.accept, res.Header.Get("Vary"))
		}
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestSpecGolden pins every served document for the shipped models, the
// index and each model's own, so any change to the API docs, static or per
// model, shows up in review as a diff of testdata/openapi*.golden.json
// (regenerate with -update).
func TestSpecGolden(t *testing.T) {
	srv := shippedServer(t)
	for _, c := range []struct{ path, golden string }{
		{"/swagger/doc.json", "testdata/openapi.golden.json"},
		{"/swagger/models/iris/doc.json", "testdata/openapi.iris.golden.json"},
		{"/swagger/models/digits/doc.json", "testdata/openapi.digits.golden.json"},
		{"/swagger/models/tabular/doc.json", "testdata/openapi.tabular.golden.json"},
		{"/swagger/models/digitview/doc.json", "testdata/openapi.digitview.golden.json"},
	} {
		got := do(t, "GET", srv.URL+c.path, "").Body
		if *update {
			if err := os.WriteFile(c.golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(c.golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s; if the change is intended, run: go test ./handlers -run TestSpecGolden -update", c.path, c.golden)
		}
	}
}
