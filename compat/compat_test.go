//go:build compat

// The compatibility suite (make compat): every model of models.json,
// fetched into the cache by compat/fetch, is served by the real server
// (the house's test-server builder over a loopback listener, the handler
// cmd/onnxserve serves, on the real ONNX Runtime) and asked each case of
// its testdata/<name>.json over /v2 JSON, /v2 binary and /v1, and the
// answers are compared with the reference run's; then a malformed request
// to each must get a 4xx and leave the server ready.
package compat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

func TestMain(m *testing.M) { servertest.Main(m) }

// jsonLimit is the most input elements a case sends as JSON; larger ones
// (the 1024×1024 image) go as binary only, as a client would send them.
const jsonLimit = 200_000

// client bounds each request generously, for the 44 MB model on a busy
// two-core machine; no assertion depends on how long anything takes.
var client = &http.Client{Timeout: 10 * time.Minute}

func TestCompat(t *testing.T) {
	models, err := ReadManifest("models.json")
	if err != nil {
		t.Fatal(err)
	}
	cache := os.Getenv("COMPAT_CACHE")
	if cache == "" {
		cache = servertest.Path("compat", ".cache")
	}
	repo := t.TempDir()
	refs := map[string]*Reference{}
	for _, m := range models {
		src := CachePath(cache, m.Name)
		if err := checkSum(src, m); err != nil {
			t.Fatalf("%v (run go run ./compat/fetch, or make compat)", err)
		}
		if err := os.MkdirAll(filepath.Join(repo, m.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(src, filepath.Join(repo, m.Name, "model.onnx")); err != nil {
			t.Fatal(err)
		}
		if refs[m.Name], err = ReadReference("testdata", m.Name); err != nil {
			t.Fatal(err)
		}
	}
	// SkipBad, so that a model that does not load fails its own subtest
	// with the reason, and the others are still checked.
	srv, _ := servertest.Start(t, repo, servertest.Options{SkipBad: true, MaxBodyBytes: 64 << 20})
	t.Run("swagger", func(t *testing.T) { checkSwagger(t, srv.URL, models) })
	for _, m := range models {
		t.Run(m.Name, func(t *testing.T) {
			s := server{url: srv.URL, model: m.Name}
			s.checkMetadata(t, refs[m.Name])
			for _, c := range refs[m.Name].Cases {
				t.Run(c.Name, func(t *testing.T) {
					small, empty := 0, false
					for _, in := range c.Inputs {
						small += Elements(in.Shape)
						empty = empty || slices.Contains(in.Shape, 0)
					}
					if small <= jsonLimit {
						s.checkV2(t, c, false, false)
					}
					s.checkV2(t, c, true, true)
					s.checkV2(t, c, true, false)
					// /v1 reads a shape from the nesting: [] is [0], and no
					// nesting says [0, 10]; it returns every output.
					if small <= jsonLimit && !empty && c.Requested == nil {
						s.checkV1(t, c)
					}
				})
			}
			s.checkMalformed(t, refs[m.Name].Cases[0])
		})
	}
}

// checkSwagger: each model's API doc, which names its route and its
// inputs ("::", dots, spaces, non-ASCII), is JSON with its predict path.
func checkSwagger(t *testing.T, base string, models []Model) {
	for _, m := range models {
		doc := base + "/swagger/models/" + url.PathEscape(m.Name) + "/doc.json"
		resp, body := server{url: base}.do(t, "GET", doc, "", nil, nil)
		var spec struct{ Paths map[string]any }
		if err := json.Unmarshal(body, &spec); resp.StatusCode != 200 || err != nil {
			t.Errorf("GET %s: %d, %v: %s", doc, resp.StatusCode, err, clip(body))
			continue
		}
		if _, ok := spec.Paths["/v1/models/"+m.Name+"/predict"]; !ok {
			t.Errorf("%s has no predict path for model %q", doc, m.Name)
		}
	}
}

func checkSum(path string, m Model) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("model %q: %w", m.Name, err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
		return fmt.Errorf("model %q: %s has sha256 %s, the manifest pins %s", m.Name, path, got, m.SHA256)
	}
	return nil
}

// server is one model of the test server.
type server struct{ url, model string }

// path is the URL of the model's route below /v2/models/ or /v1/models/,
// the name escaped (it may hold spaces and non-ASCII).
func (s server) path(api, rest string) string {
	return s.url + "/" + api + "/models/" + url.PathEscape(s.model) + rest
}

func (s server) do(t *testing.T, method, url, ctype string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp, buf.Bytes()
}

// checkMetadata: the model loaded, and /v2 describes its inputs with the
// datatypes and ranks the reference run used.
func (s server) checkMetadata(t *testing.T, ref *Reference) {
	resp, body := s.do(t, "GET", s.path("v2", ""), "", nil, nil)
	if resp.StatusCode != 200 {
		_, list := s.do(t, "GET", s.url+"/v1/models", "", nil, nil)
		t.Fatalf("GET /v2/models/%s: %d %s; /v1/models: %s", s.model, resp.StatusCode, body, list)
	}
	type tensorMeta struct {
		Name, Datatype string
		Shape          []int64
	}
	var meta struct{ Inputs []tensorMeta }
	if err := json.Unmarshal(body, &meta); err != nil {
		t.Fatalf("metadata: %v: %s", err, body)
	}
	for _, in := range ref.Cases[0].Inputs {
		i := slices.IndexFunc(meta.Inputs, func(m tensorMeta) bool { return m.Name == in.Name })
		if i < 0 {
			t.Errorf("metadata lists no input %q: %s", in.Name, body)
			continue
		}
		if got := meta.Inputs[i]; got.Datatype != in.Datatype || len(got.Shape) != len(in.Shape) {
			t.Errorf("input %q: metadata says %s of shape %v, the reference sent %s of shape %v", in.Name, got.Datatype, got.Shape, in.Datatype, in.Shape)
		}
	}
}

// checkV2 asks the case on /v2/models/{m}/infer, inputs as JSON or binary
// and outputs as JSON or binary, and compares the outputs.
func (s server) checkV2(t *testing.T, c Case, binIn, binOut bool) {
	where := fmt.Sprintf("v2 %s in, %s out", form(binIn), form(binOut))
	var head struct {
		Inputs  []map[string]any `json:"inputs"`
		Outputs []map[string]any `json:"outputs,omitempty"`
	}
	var raw []byte
	for _, in := range c.Inputs {
		h := map[string]any{"name": in.Name, "datatype": in.Datatype, "shape": in.Shape}
		if binIn {
			b, err := encodeRaw(in)
			if err != nil {
				t.Fatal(err)
			}
			h["parameters"] = map[string]any{"binary_data_size": len(b)}
			raw = append(raw, b...)
		} else {
			data, err := jsonData(in)
			if err != nil {
				t.Fatal(err)
			}
			h["data"] = data
		}
		head.Inputs = append(head.Inputs, h)
	}
	// The outputs asked for: those requested, else every tensor output (a
	// ZipMap has no Open Inference Protocol datatype; /v1 returns it).
	var want []Tensor
	for _, o := range c.Outputs {
		if o.Datatype != "ZIPMAP" && (c.Requested == nil || slices.Contains(c.Requested, o.Name)) {
			want = append(want, o)
			head.Outputs = append(head.Outputs, map[string]any{"name": o.Name, "parameters": map[string]any{"binary_data": binOut}})
		}
	}
	hb, err := json.Marshal(head)
	if err != nil {
		t.Fatal(err)
	}
	header := map[string]string{}
	body := hb
	if binIn || binOut {
		header["Inference-Header-Content-Length"] = fmt.Sprint(len(hb))
		body = append(hb, raw...)
	}
	resp, ans := s.do(t, "POST", s.path("v2", "/infer"), "application/octet-stream", body, header)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", where, resp.StatusCode, clip(ans))
	}
	jsonPart, rawPart := ans, []byte(nil)
	if n := resp.Header.Get("Inference-Header-Content-Length"); n != "" {
		var k int
		if _, err := fmt.Sscan(n, &k); err != nil || k > len(ans) {
			t.Fatalf("%s: Inference-Header-Content-Length %q for a body of %d bytes", where, n, len(ans))
		}
		jsonPart, rawPart = ans[:k], ans[k:]
	} else if binOut {
		t.Fatalf("%s: no Inference-Header-Content-Length in the answer", where)
	}
	var got struct {
		Outputs []struct {
			Name, Datatype string
			Shape          []int64
			Data           []any
			Parameters     map[string]any
		}
	}
	if err := json.Unmarshal(jsonPart, &got); err != nil {
		t.Fatalf("%s: %v: %s", where, err, clip(jsonPart))
	}
	if len(got.Outputs) != len(want) {
		t.Fatalf("%s: %d outputs, want %d: %s", where, len(got.Outputs), len(want), clip(jsonPart))
	}
	for i, w := range want {
		g := got.Outputs[i]
		if g.Name != w.Name || g.Datatype != w.Datatype || !slices.Equal(g.Shape, w.Shape) {
			t.Errorf("%s: output %d is %q %s %v, want %q %s %v", where, i, g.Name, g.Datatype, g.Shape, w.Name, w.Datatype, w.Shape)
			continue
		}
		data := g.Data
		if binOut {
			size, ok := g.Parameters["binary_data_size"].(float64)
			if !ok || int(size) > len(rawPart) {
				t.Fatalf("%s: output %q: binary_data_size %v with %d bytes left", where, w.Name, g.Parameters["binary_data_size"], len(rawPart))
			}
			if data, err = decodeRaw(w.Datatype, rawPart[:int(size)]); err != nil {
				t.Fatalf("%s: output %q: %v", where, w.Name, err)
			}
			rawPart = rawPart[int(size):]
		}
		compare(t, where, w, data)
	}
}

func form(binary bool) string {
	if binary {
		return "binary"
	}
	return "JSON"
}

// checkV1 asks the case on /v1/models/{m}/predict with every input as a
// nested array by name, and compares every output, ZipMaps included.
func (s server) checkV1(t *testing.T, c Case) {
	inputs := map[string]any{}
	for _, in := range c.Inputs {
		data, err := jsonData(in)
		if err != nil {
			t.Fatal(err)
		}
		inputs[in.Name] = nest(data, in.Shape)
	}
	body, err := json.Marshal(map[string]any{"inputs": inputs})
	if err != nil {
		t.Fatal(err)
	}
	resp, ans := s.do(t, "POST", s.path("v1", "/predict"), "application/json", body, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("v1: %d %s", resp.StatusCode, clip(ans))
	}
	var got struct{ Outputs map[string]any }
	if err := json.Unmarshal(ans, &got); err != nil {
		t.Fatalf("v1: %v: %s", err, clip(ans))
	}
	if len(got.Outputs) != len(c.Outputs) {
		t.Errorf("v1: %d outputs, want %d: %s", len(got.Outputs), len(c.Outputs), clip(ans))
	}
	for _, w := range c.Outputs {
		g, ok := got.Outputs[w.Name]
		if !ok {
			t.Errorf("v1: no output %q: %s", w.Name, clip(ans))
			continue
		}
		if w.Datatype == "ZIPMAP" {
			compareMaps(t, "v1", w, g)
			continue
		}
		flat, shape := flatten(g)
		// Nested JSON cannot show the dimensions after a zero one ([2, 0,
		// 8] is [[], []]): compare the shape up to the first zero.
		if z := slices.Index(w.Shape, 0); z >= 0 {
			if !slices.Equal(shape, w.Shape[:z+1]) {
				t.Errorf("v1: output %q has shape %v, want %v", w.Name, shape, w.Shape)
			}
		} else if !slices.Equal(shape, w.Shape) {
			t.Errorf("v1: output %q has shape %v, want %v", w.Name, shape, w.Shape)
			continue
		}
		compare(t, "v1", w, flat)
	}
}

// checkMalformed: a body that does not fit the model is a 4xx naming the
// input, on /v2 (the first input's datatype wrong) and /v1 (a string for
// a tensor, or a number for a string tensor), malformed JSON is a 400, and
// the server and the model are still ready after each.
func (s server) checkMalformed(t *testing.T, c Case) {
	in := c.Inputs[0]
	wrongType := "FP32"
	if in.Datatype == "FP32" {
		wrongType = "INT8"
	}
	v2, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": in.Name, "datatype": wrongType, "shape": in.Shape, "data": make([]int, Elements(in.Shape))}}})
	v1value := any("not a tensor")
	if in.Datatype == "BYTES" {
		v1value = []any{1.5}
	}
	v1, _ := json.Marshal(map[string]any{"inputs": map[string]any{in.Name: v1value}})
	for _, tc := range []struct {
		what, api, rest string
		body            []byte
		status          int
		mention         string
	}{
		{"v2 wrong datatype", "v2", "/infer", v2, 400, in.Name},
		{"v2 malformed JSON", "v2", "/infer", []byte(`{"inputs": [{"name": `), 400, ""},
		{"v1 wrong JSON type", "v1", "/predict", v1, 422, in.Name},
		{"v1 malformed JSON", "v1", "/predict", []byte(`{"inputs": {`), 400, ""},
	} {
		resp, ans := s.do(t, "POST", s.path(tc.api, tc.rest), "application/json", tc.body, nil)
		if resp.StatusCode != tc.status || !strings.Contains(string(ans), tc.mention) {
			t.Errorf("%s: %d %s, want %d naming %q", tc.what, resp.StatusCode, clip(ans), tc.status, tc.mention)
		}
		for _, probe := range []string{s.url + "/v2/health/ready", s.path("v2", "/ready")} {
			if resp, ans := s.do(t, "GET", probe, "", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("after %s: GET %s: %d %s", tc.what, probe, resp.StatusCode, ans)
			}
		}
	}
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}
