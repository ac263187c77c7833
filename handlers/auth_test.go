package handlers_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// request is one concrete request of a route pattern: the iris model,
// version 1, the Swagger UI's page, and a body the route takes.
func request(method, pattern string) (path, body string) {
	path = strings.NewReplacer(":name", "iris", ":version", "1", "*any", "index.html").Replace(pattern)
	switch {
	case strings.HasSuffix(pattern, "/predict"):
		body = `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`
	case strings.HasSuffix(pattern, "/infer"):
		body = `{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`
	case pattern == "/v2/repository/index":
		body = `{}`
	}
	return path, body
}

func doWith(t testing.TB, method, url, body string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return doRequest(t, req)
}

func bearer(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }

// TestAuthRoutesInTable pins that the route table and auth's table agree:
// every route the router serves has its scope there, and the table names
// no route the router does not serve. A route added without a scope fails
// here (and needs admin meanwhile).
func TestAuthRoutesInTable(t *testing.T) {
	repo := servertest.Open(t, servertest.Path("models"), servertest.Options{})
	engine := servertest.Handler(repo, servertest.Options{Metrics: metrics.New(metrics.Options{})}).(*gin.Engine)
	policy := auth.NewPolicy()
	served := map[string]bool{}
	for _, r := range engine.Routes() {
		served[r.Method+" "+r.Path] = true
		if _, ok := policy.HTTP(r.Method, r.Path); !ok {
			t.Errorf("route %s %s has no scope in handlers/auth/policy.go", r.Method, r.Path)
		}
	}
	for _, r := range auth.Rules() {
		if r.HTTP && !served[r.Method+" "+r.Path] {
			t.Errorf("handlers/auth/policy.go names %s %s, which the router does not serve", r.Method, r.Path)
		}
	}
}

// issueScope is the scope issue 12 gives a route, in its own words:
// probes, the Swagger UI and the server's metadata open; the repository
// admin; /metrics metrics; every other model route infer.
func issueScope(path string) auth.Scope {
	switch {
	case path == "/" || path == "/healthz" || path == "/readyz" || path == "/v2" || strings.HasPrefix(path, "/v2/health/") || strings.HasPrefix(path, "/swagger/"):
		return auth.Open
	case strings.HasPrefix(path, "/v2/repository/"):
		return auth.Admin
	case path == "/metrics":
		return auth.Metrics
	}
	return auth.Infer
}

// TestAuthMatrix pins, for every route of auth's table over real HTTP,
// what each caller gets: no key and an unknown key 401 with
// WWW-Authenticate: Bearer, a key without the route's scope 403, in the
// route's protocol's error form; and the right key, sent either way, the
// very answer a server without keys gives the same request. Open routes
// answer every caller as the open server does.
func TestAuthMatrix(t *testing.T) {
	open, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Metrics: metrics.New(metrics.Options{})})
	locked, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Metrics: metrics.New(metrics.Options{}), Keys: servertest.Keys(t)})

	// lacking is a key without the scope; right one with it.
	lacking := map[auth.Scope]string{auth.Infer: servertest.MetricsKey, auth.Admin: servertest.InferKey, auth.Metrics: servertest.AdminKey}
	right := map[auth.Scope]string{auth.Infer: servertest.InferKey, auth.Admin: servertest.AdminKey, auth.Metrics: servertest.MetricsKey}
	for _, r := range auth.Rules() {
		if !r.HTTP {
			continue
		}
		path, body := request(r.Method, r.Path)
		name := r.Method + " " + path
		if want := issueScope(r.Path); r.Need != want {
			t.Errorf("%s needs %v in the table, %v by the issue", name, r.Need, want)
		}
		want := doWith(t, r.Method, open.URL+path, body, nil)
		sameAsOpen := func(how string, got response) {
			t.Helper()
			if got.Status != want.Status || r.Path != "/metrics" && !bytes.Equal(got.Body, want.Body) {
				t.Errorf("%s %s: %d %s, want the open server's %d %s", name, how, got.Status, got.Body, want.Status, want.Body)
			}
		}
		callers := []struct {
			how    string
			header http.Header
		}{
			{"without a key", nil},
			{"with an unknown key", bearer("nope")},
			{"with an unknown X-API-Key", http.Header{"X-Api-Key": {"nope"}}},
			{"with a key in another scheme", http.Header{"Authorization": {"Basic " + servertest.InferKey}}},
			{"with a key lacking the scope", bearer(lacking[r.Need])},
			{"with the right key", bearer(right[r.Need])},
			{"with the right X-API-Key", http.Header{"X-Api-Key": {right[r.Need]}}},
		}
		for _, c := range callers {
			got := doWith(t, r.Method, locked.URL+path, body, c.header)
			if r.Need == auth.Open || strings.HasPrefix(c.how, "with the right") {
				sameAsOpen(c.how, got)
				continue
			}
			wantStatus := 401
			if c.how == "with a key lacking the scope" {
				wantStatus = 403
			}
			if got.Status != wantStatus {
				t.Errorf("%s %s: %d %s, want %d", name, c.how, got.Status, got.Body, wantStatus)
				continue
			}
			if wa := got.Header.Get("WWW-Authenticate"); (wantStatus == 401) != strings.HasPrefix(wa, "Bearer") {
				t.Errorf("%s %s: WWW-Authenticate %q", name, c.how, wa)
			}
			var e map[string]any
			if err := json.Unmarshal(got.Body, &e); err != nil || e["error"] == nil || strings.HasPrefix(r.Path, "/v2") && len(e) != 1 {
				t.Errorf("%s %s: body %s is not the route's error form", name, c.how, got.Body)
			}
			for _, k := range []string{servertest.InferKey, servertest.AdminKey, servertest.MetricsKey} {
				if bytes.Contains(got.Body, []byte(k)) {
					t.Errorf("%s %s: the answer names a key: %s", name, c.how, got.Body)
				}
			}
		}
	}
}

// TestAuthPublicMetrics pins --public-metrics: /metrics without a key,
// everything else as before.
func TestAuthPublicMetrics(t *testing.T) {
	keys, err := auth.New(auth.Options{Infer: []string{servertest.InferKey}, PublicMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Metrics: metrics.New(metrics.Options{}), Keys: keys})
	if res := doWith(t, "GET", srv.URL+"/metrics", "", nil); res.Status != 200 || !bytes.Contains(res.Body, []byte("onnxserve_")) {
		t.Errorf("public /metrics: %d %.200s", res.Status, res.Body)
	}
	if res := doWith(t, "GET", srv.URL+"/v1/models", "", nil); res.Status != 401 {
		t.Errorf("/v1/models with public metrics and no key: %d", res.Status)
	}
}

// TestAuthKeyRotation pins keys that rotate through the keys file on a
// running server: a new key works and the old one is refused once the
// file changed, without a restart; a broken file keeps the keys in force.
func TestAuthKeyRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	write := func(s string) {
		t.Helper()
		// Written aside and renamed over, as an editor or a Kubernetes
		// Secret swaps it: the watcher never reads half a file.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("# the first key\nfirst infer\n")
	var log servertest.SyncBuffer
	keys, err := auth.New(auth.Options{File: path, Logger: servertest.JSONLogger(&log)})
	if err != nil {
		t.Fatal(err)
	}
	go keys.Watch(t.Context(), 5*time.Millisecond)
	srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Keys: keys})
	status := func(key string) int { return doWith(t, "GET", srv.URL+"/v1/models", "", bearer(key)).Status }
	if a, b := status("first"), status("second"); a != 200 || b != 401 {
		t.Fatalf("at start: first %d, second %d; want 200, 401", a, b)
	}

	write("second infer\n")
	servertest.WaitFor(t, "the rotated key to work", func() bool { return status("second") == 200 })
	if s := status("first"); s != 401 {
		t.Errorf("after rotation the old key gets %d, want 401", s)
	}

	write("second infer\nthird\n")
	servertest.WaitFor(t, "the broken file to be logged", func() bool { return strings.Contains(log.String(), "not re-read") })
	if a, b := status("second"), status("third"); a != 200 || b != 401 {
		t.Errorf("after a broken file: second %d, third %d; want 200, 401", a, b)
	}
	if strings.Contains(log.String(), "third") || strings.Contains(log.String(), "second") {
		t.Errorf("the log names a key: %s", log.String())
	}
}

// TestAuthAccessLog pins that the access line names the caller's key by
// its id, the first 8 hex digits of its SHA-256, and never by the key.
func TestAuthAccessLog(t *testing.T) {
	var log servertest.SyncBuffer
	srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Keys: servertest.Keys(t), AccessLog: true, Logger: servertest.JSONLogger(&log)})
	path, body := request("POST", "/v1/models/:name/predict")
	if res := doWith(t, "POST", srv.URL+path, body, bearer(servertest.InferKey)); res.Status != 200 {
		t.Fatalf("predict: %d %s", res.Status, res.Body)
	}
	if res := doWith(t, "GET", srv.URL+"/v1/models", "", http.Header{"X-Api-Key": {servertest.AdminKey}}); res.Status != 200 {
		t.Fatalf("list: %d %s", res.Status, res.Body)
	}
	id := func(k string) string { d := sha256.Sum256([]byte(k)); return hex.EncodeToString(d[:4]) }
	var lines []map[string]any
	servertest.WaitFor(t, "two access lines", func() bool {
		lines = servertest.LogLines(t, bytes.NewBufferString(log.String()), "request")
		return len(lines) >= 2
	})
	if len(lines) != 2 || lines[0]["key"] != id(servertest.InferKey) || lines[1]["key"] != id(servertest.AdminKey) {
		t.Errorf("access lines %v, want keys %s and %s", lines, id(servertest.InferKey), id(servertest.AdminKey))
	}
	if strings.Contains(log.String(), servertest.InferKey) || strings.Contains(log.String(), servertest.AdminKey) {
		t.Errorf("the log names a key: %s", log.String())
	}
}

// TestSpecDeclaresKeys pins the Swagger document of a server with keys:
// both ways of sending one are declared (so the UI's Authorize button
// takes a key), every operation that needs a key by the issue, the models'
// own predict paths included, says so with its 401 and 403, and the open
// ones do not; a server without keys declares none.
func TestSpecDeclaresKeys(t *testing.T) {
	type spec struct {
		SecurityDefinitions map[string]struct{ Type, In, Name string } `json:"securityDefinitions"`
		Paths               map[string]map[string]struct {
			Security  []map[string][]string      `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	// read is the index document and every model's own, their paths
	// together; each document must declare the schemes when one does.
	read := func(keys *auth.Keys) spec {
		srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Keys: keys})
		entries, err := os.ReadDir(servertest.Path("models"))
		if err != nil {
			t.Fatal(err)
		}
		urls := []string{"/swagger/doc.json"}
		for _, e := range entries {
			if e.IsDir() {
				urls = append(urls, "/swagger/models/"+e.Name()+"/doc.json")
			}
		}
		all := spec{Paths: map[string]map[string]struct {
			Security  []map[string][]string      `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		}{}}
		for i, u := range urls {
			var s spec
			if err := json.Unmarshal(do(t, "GET", srv.URL+u, "").Body, &s); err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			if i == 0 {
				all.SecurityDefinitions = s.SecurityDefinitions
			} else if len(s.SecurityDefinitions) != len(all.SecurityDefinitions) {
				t.Errorf("%s declares %v, the index %v", u, s.SecurityDefinitions, all.SecurityDefinitions)
			}
			maps.Copy(all.Paths, s.Paths)
		}
		return all
	}
	locked := read(servertest.Keys(t))
	if d := locked.SecurityDefinitions; d["APIKey"].Name != "X-API-Key" || d["Bearer"].Name != "Authorization" || d["APIKey"].In != "header" || d["Bearer"].Type != "apiKey" {
		t.Errorf("securityDefinitions %+v", d)
	}
	pattern := strings.NewReplacer("{name}", ":name", "{version}", ":version")
	if locked.Paths["/v1/models/iris/predict"] == nil {
		t.Fatal("no path of the iris model")
	}
	for path, ops := range locked.Paths {
		p := pattern.Replace(path)
		if strings.HasPrefix(p, "/v1/models/") && strings.HasSuffix(p, "/predict") && !strings.Contains(p, ":") {
			p = "/v1/models/:name/predict" // a model's own path
		}
		for method, op := range ops {
			secured := len(op.Security) == 2 && op.Security[0]["APIKey"] != nil && op.Security[1]["Bearer"] != nil
			if want := issueScope(p) != auth.Open; secured != want || want && (op.Responses["401"] == nil || op.Responses["403"] == nil) {
				t.Errorf("%s %s: security %v, responses 401 %v 403 %v; want a key: %v", method, path, op.Security, op.Responses["401"] != nil, op.Responses["403"] != nil, want)
			}
		}
	}
	open := read(nil)
	if open.SecurityDefinitions != nil {
		t.Errorf("a server without keys declares %v", open.SecurityDefinitions)
	}
	for path, ops := range open.Paths {
		for method, op := range ops {
			if op.Security != nil {
				t.Errorf("a server without keys: %s %s needs %v", method, path, op.Security)
			}
		}
	}
}

// BenchmarkPredictWithKey is BenchmarkPredict on a server with keys, the
// key sent as a bearer token: what the check costs a request (one SHA-256
// of the key and a compare with each key's digest).
func BenchmarkPredictWithKey(b *testing.B) {
	repo, dir := benchRepo(b)
	h := servertest.Handler(repo, servertest.Options{MaxBodyBytes: 32 << 20, Keys: servertest.Keys(b)})
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			body := benchBody(b, dir, c.body)
			client := newBenchClient(c.model)
			client.req.Header.Set("Authorization", "Bearer "+servertest.InferKey)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if status := client.post(h, body); status != http.StatusOK {
					b.Fatalf("status %d", status)
				}
			}
		})
	}
}
