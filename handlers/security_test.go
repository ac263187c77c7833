package handlers_test

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/cors"
	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestRepositoryChangesTakeJSONOnly pins that load and unload take a JSON
// body or none: a form or text/plain POST, which a page of any site can
// make a browser send without asking first, is 415 and changes nothing.
func TestRepositoryChangesTakeJSONOnly(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlExplicit})
	post := func(op, contentType, body, site string) int {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/v2/repository/models/iris/"+op, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		contentType, body string
		site              string // Sec-Fetch-Site, as a browser sends it
		want              int
	}{
		{"application/x-www-form-urlencoded", "a=b", "cross-site", 415},
		{"application/x-www-form-urlencoded", "", "", 415},
		{"multipart/form-data; boundary=x", "--x--", "cross-site", 415},
		{"text/plain", `{}`, "cross-site", 415},
		{"text/plain;charset=UTF-8", "", "", 415},
		{"", `{}`, "", 415}, // a body of no declared type
		{"application/jsonx", `{}`, "", 415},
		{"", "", "cross-site", 415}, // an empty fetch(url, {method: "POST", mode: "no-cors"})
		{"", "", "same-site", 415},
		{"application/json", `{}`, "", 200},
		{"application/json", `{}`, "cross-site", 200}, // only after a preflight --cors-origins allowed
		{"application/json; charset=utf-8", `{"parameters": {}}`, "", 200},
		{"", "", "", 200}, // curl -X POST
		{"", "", "same-origin", 200},
		{"", "", "none", 200},
	} {
		for _, op := range []string{"unload", "load"} {
			if got := post(op, tc.contentType, tc.body, tc.site); got != tc.want {
				t.Errorf("%s with Content-Type %q, body %q, Sec-Fetch-Site %q: %d, want %d", op, tc.contentType, tc.body, tc.site, got, tc.want)
			}
		}
	}
	// Refused unloads changed nothing: iris still answers.
	path, body := request("POST", "/v1/models/:name/predict")
	if res := do(t, "POST", srv.URL+path, body); res.Status != 200 {
		t.Errorf("predict after the refused unloads: %d %s", res.Status, res.Body)
	}
}

// TestNoAbsolutePathInAnswers pins that no answer names a path of the
// server's file system: every route of auth's table, and the answers that
// report a model's failure (a broken model's load, the index and model
// list that give the reason), are searched for the repository's absolute
// path and the source tree's.
func TestNoAbsolutePathInAnswers(t *testing.T) {
	dir := servertest.TestRepo(t)
	servertest.WriteFile(t, filepath.Join(dir, "broken", "model.onnx"), "not onnx")
	srv, _ := servertest.Start(t, dir, servertest.Options{Control: runtime.ControlExplicit, SkipBad: true, Metrics: metrics.New(metrics.Options{})})
	type req struct{ method, path, body string }
	var reqs []req
	for _, r := range auth.Rules() {
		if r.HTTP {
			path, body := request(r.Method, r.Path)
			reqs = append(reqs, req{r.Method, path, body})
			if strings.Contains(r.Path, ":name") {
				// The same route for the broken model and an unknown one.
				for _, name := range []string{"broken", "nope"} {
					reqs = append(reqs, req{r.Method, strings.Replace(path, "iris", name, 1), body})
				}
			}
		}
	}
	reqs = append(reqs, req{"GET", "/swagger/doc.json", ""}, req{"POST", "/v1/models/iris/predict", "{"},
		req{"POST", "/v2/models/iris/infer", `{"inputs": []}`}, req{"GET", "/no/such/route", ""})
	for _, p := range []string{dir, servertest.Root()} {
		for _, r := range reqs {
			res := do(t, r.method, srv.URL+r.path, r.body)
			if bytes.Contains(res.Body, []byte(p)) {
				t.Errorf("%s %s answers %d with the path %s: %s", r.method, r.path, res.Status, p, res.Body)
			}
		}
	}
	// The broken model's reason is there, without the path.
	if res := do(t, "POST", srv.URL+"/v2/repository/models/broken/load", ""); res.Status != 400 || !bytes.Contains(res.Body, []byte("broken/model.onnx")) {
		t.Errorf("the load of a broken model does not name its file relative to the repository: %d %s", res.Status, res.Body)
	}
	if res := do(t, "POST", srv.URL+"/v2/repository/index", "{}"); !bytes.Contains(res.Body, []byte("broken/model.onnx")) {
		t.Errorf("the index does not give the broken model's file relative to the repository: %s", res.Body)
	}
}

// TestAuthUnknownModelLikeKnown pins that a caller without a key, or with
// a key without the scope, learns nothing of which models exist: an
// unknown model is answered as a served one.
func TestAuthUnknownModelLikeKnown(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Keys: servertest.Keys(t)})
	for _, header := range []http.Header{nil, bearer("nope"), bearer(servertest.MetricsKey)} {
		for _, pattern := range []string{"/v1/models/:name", "/v1/models/:name/predict", "/v2/models/:name", "/v2/models/:name/ready", "/v2/models/:name/infer"} {
			method := "GET"
			if strings.HasSuffix(pattern, "predict") || strings.HasSuffix(pattern, "infer") {
				method = "POST"
			}
			path, body := request(method, pattern)
			known := doWith(t, method, srv.URL+path, body, header)
			unknown := doWith(t, method, srv.URL+strings.Replace(path, "iris", "nope", 1), body, header)
			if known.Status < 400 || known.Status != unknown.Status || !bytes.Equal(known.Body, unknown.Body) {
				t.Errorf("%s %s %v: iris %d %s, an unknown model %d %s", method, pattern, header, known.Status, known.Body, unknown.Status, unknown.Body)
			}
		}
	}
}

// TestCORS pins CORS through the whole router: a listed origin's preflight
// is 204 with what the browser needs, keys or not (a preflight carries
// none), and the answers to it, refusals included, are readable by its
// page; an origin not listed gets no CORS header at all.
func TestCORS(t *testing.T) {
	policy, err := cors.New([]string{"http://127.0.0.1:1234", "https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Keys: servertest.Keys(t), CORS: policy})
	preflight := func(origin string) response {
		return doWith(t, "OPTIONS", srv.URL+"/v1/models/iris/predict", "", http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type,authorization"}})
	}
	res := preflight("http://127.0.0.1:1234")
	h := res.Header
	if res.Status != 204 || h.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:1234" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		h.Get("Access-Control-Max-Age") == "" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Errorf("preflight of a listed origin: %d %v", res.Status, h)
	}
	res = preflight("http://evil.example")
	if res.Status == 204 || res.Header.Get("Access-Control-Allow-Origin") != "" || res.Header.Get("Access-Control-Allow-Headers") != "" {
		t.Errorf("preflight of an origin not listed: %d %v", res.Status, res.Header)
	}

	path, body := request("POST", "/v1/models/:name/predict")
	for _, tc := range []struct {
		header http.Header
		status int
	}{
		{http.Header{"Origin": {"https://app.example.com"}}, 401},
		{http.Header{"Origin": {"https://app.example.com"}, "Authorization": {"Bearer " + servertest.InferKey}}, 200},
	} {
		res := doWith(t, "POST", srv.URL+path, body, tc.header)
		if res.Status != tc.status || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "X-Request-ID") {
			t.Errorf("predict from a listed origin: %d %v, want %d readable by it", res.Status, res.Header, tc.status)
		}
	}
	res = doWith(t, "POST", srv.URL+path, body, http.Header{"Origin": {"http://evil.example"}, "Authorization": {"Bearer " + servertest.InferKey}})
	if res.Status != 200 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("predict from an origin not listed: %d %v, want 200 with no CORS header", res.Status, res.Header)
	}
}
