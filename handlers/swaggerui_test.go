package handlers

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"testing"
	"testing/fstest"

	swaggerFiles "github.com/swaggo/files/v2"
)

// TestSwaggerUIFiles pins that the UI's pages and assets are served from
// the embedded Swagger UI, with a content ETag that revalidates.
func TestSwaggerUIFiles(t *testing.T) {
	srv := shippedServer(t)
	for _, c := range []struct{ path, ctype, has string }{
		{"/swagger/index.html", "text/html; charset=utf-8", "./swagger-ui-bundle.js"},
		{"/swagger/swagger-initializer.js", "application/javascript", `url: "doc.json"`},
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

func TestReadOnlyFS(t *testing.T) {
	ctx := context.Background()
	fsys := newReadOnlyFS(fstest.MapFS{"dir/a.txt": {Data: []byte("hello")}})
	f, err := fsys.OpenFile(ctx, "/dir/a.txt", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, _ := f.Read(buf); string(buf[:n]) != "hello" {
		t.Errorf("read %q", buf[:n])
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrPermission) {
		t.Errorf("Write: %v", err)
	}
	f.Close()
	if fi, err := fsys.Stat(ctx, "/dir/a.txt"); err != nil || fi.Size() != 5 {
		t.Errorf("Stat: %v %v", fi, err)
	}
	if fi, err := fsys.Stat(ctx, "/"); err != nil || !fi.IsDir() {
		t.Errorf("Stat /: %v %v", fi, err)
	}
	if _, err := fsys.OpenFile(ctx, "/nope", os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile missing: %v", err)
	}
	for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_CREATE, os.O_RDONLY | os.O_TRUNC} {
		if _, err := fsys.OpenFile(ctx, "/dir/a.txt", flag, 0); !errors.Is(err, os.ErrPermission) {
			t.Errorf("OpenFile flag %#x: %v", flag, err)
		}
	}
	for name, err := range map[string]error{
		"Mkdir":     fsys.Mkdir(ctx, "/new", 0o755),
		"RemoveAll": fsys.RemoveAll(ctx, "/dir"),
		"Rename":    fsys.Rename(ctx, "/dir/a.txt", "/b.txt"),
	} {
		if !errors.Is(err, os.ErrPermission) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
