package cors

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// TestNew pins what --cors-origins takes: origins as browsers send them,
// or *; anything with a path, no scheme or another scheme is refused.
func TestNew(t *testing.T) {
	for in, ok := range map[string]bool{
		"*": true, "http://127.0.0.1:8080": true, "https://app.example.com": true, "HTTPS://App.Example.com": true,
		"app.example.com": false, "https://app.example.com/": false, "https://app.example.com/x": false,
		"ftp://app.example.com": false, "https://": false, "https://u@app.example.com": false, "https://a.com?x=1": false,
	} {
		if _, err := New([]string{in}); (err == nil) != ok {
			t.Errorf("New(%q): %v, want ok %v", in, err, ok)
		}
	}
}

// TestMiddleware pins the headers of each kind of request: a listed
// origin's preflight is 204 with the methods, headers and max age; its
// other requests reach the route and expose the API's headers; an origin
// not listed, and a request with no origin, get no CORS header but Vary.
func TestMiddleware(t *testing.T) {
	listed, err := New([]string{"http://127.0.0.1:1234"})
	if err != nil {
		t.Fatal(err)
	}
	anyOrigin, err := New([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(p *Policy, method string, header map[string]string) *httptest.ResponseRecorder {
		r := gin.New()
		r.Use(p.Middleware())
		r.POST("/x", func(c *gin.Context) { c.String(200, "route") })
		req := httptest.NewRequest(method, "/x", nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	preflight := map[string]string{"Origin": "http://127.0.0.1:1234", "Access-Control-Request-Method": "POST"}
	for _, tc := range []struct {
		name   string
		policy *Policy
		method string
		header map[string]string
		status int
		want   map[string]string // "" = absent
	}{
		{"listed preflight", listed, "OPTIONS", preflight, 204, map[string]string{
			"Access-Control-Allow-Origin":  "http://127.0.0.1:1234",
			"Access-Control-Allow-Methods": "GET, POST",
			"Access-Control-Allow-Headers": "Content-Type, Authorization, X-API-Key, Inference-Header-Content-Length, X-Request-ID",
			"Access-Control-Max-Age":       "600", "Vary": "Origin", "Access-Control-Expose-Headers": ""}},
		{"listed request", listed, "POST", map[string]string{"Origin": "http://127.0.0.1:1234"}, 200, map[string]string{
			"Access-Control-Allow-Origin":   "http://127.0.0.1:1234",
			"Access-Control-Expose-Headers": "Inference-Header-Content-Length, Retry-After, X-Request-ID",
			"Access-Control-Allow-Methods":  "", "Vary": "Origin"}},
		{"unlisted preflight", listed, "OPTIONS", map[string]string{"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "POST"}, 404, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Vary": "Origin"}},
		{"unlisted request", listed, "POST", map[string]string{"Origin": "http://localhost:1234"}, 200, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "", "Vary": "Origin"}},
		{"no origin", listed, "POST", nil, 200, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"plain OPTIONS", listed, "OPTIONS", map[string]string{"Origin": "http://127.0.0.1:1234"}, 404, map[string]string{
			"Access-Control-Allow-Methods": ""}},
		{"any origin", anyOrigin, "OPTIONS", map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "POST"}, 204, map[string]string{
			"Access-Control-Allow-Origin": "https://x.example"}},
	} {
		w := serve(tc.policy, tc.method, tc.header)
		if w.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.status)
		}
		for k, v := range tc.want {
			if got := strings.Join(w.Header().Values(k), ", "); got != v {
				t.Errorf("%s: %s %q, want %q", tc.name, k, got, v)
			}
		}
		if tc.status == 204 && w.Body.Len() != 0 {
			t.Errorf("%s: a preflight answered with a body", tc.name)
		}
	}
}
