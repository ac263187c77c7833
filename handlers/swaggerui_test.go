package handlers_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"testing"

	swaggerFiles "github.com/swaggo/files/v2"
)

// TestSwaggerUIFiles pins that the UI's pages and assets are served from
// the embedded Swagger UI, with a content ETag that revalidates.
func TestSwaggerUIFiles(t *testing.T) {
	srv := shippedServer(t)
	for _, c := range []struct{ path, ctype, has string }{
		{"/swagger/index.html", "text/html; charset=utf-8", "./swagger-ui-bundle.js"},
		{"/swagger/swagger-initializer.js", "application/javascript", `{"name":"onnxserve API","url":"doc.json"}`},
		{"/swagger/swagger-ui-bundle.js", "application/javascript", "SwaggerUIBundle"},
		{"/swagger/swagger-ui-standalone-preset.js", "application/javascript", "SwaggerUIStandalonePreset"},
		{"/swagger/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"},
		{"/swagger/favicon-32x32.png", "image/png", "PNG"},
	} {
		res := do(t, "GET", srv.URL+c.path, "")
		if res.Status != 200 || res.Header.Get("Content-Type") != c.ctype || !bytes.Contains(res.Body, []byte(c.has)) {
			t.Errorf("%s: %d %q, %d bytes", c.path, res.Status, res.Header.Get("Content-Type"), len(res.Body))
		}
	}
	want, err := fs.ReadFile(swaggerFiles.FS, "swagger-ui.css")
	if err != nil {
		t.Fatal(err)
	}
	res := do(t, "GET", srv.URL+"/swagger/swagger-ui.css", "")
	if !bytes.Equal(res.Body, want) {
		t.Errorf("swagger-ui.css: %d bytes served, %d embedded", len(res.Body), len(want))
	}
	etag := res.Header.Get("ETag")
	if len(etag) != 34 { // 16 bytes of SHA-256 in hex, quoted
		t.Fatalf("ETag %q", etag)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/swagger/swagger-ui.css", nil)
	req.Header.Set("If-None-Match", etag)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d", etag, r.StatusCode)
	}
	if other := do(t, "GET", srv.URL+"/swagger/swagger-ui-bundle.js", "").Header.Get("ETag"); other == etag {
		t.Errorf("two files share the ETag %s", etag)
	}
	if res := do(t, "GET", srv.URL+"/swagger/missing.js", ""); res.Status != 404 {
		t.Errorf("missing.js: %d", res.Status)
	}
}
