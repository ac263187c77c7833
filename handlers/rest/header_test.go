package rest

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestHeader pins that Header finds a header however the client spelled
// its name, given the canonical key, as net/http reads a request; and that
// SetHeader's key is the one a client reads back.
func TestHeader(t *testing.T) {
	raw := "POST /v1/models/iris/predict HTTP/1.1\r\nHost: x\r\n" +
		"content-type: application/json\r\nACCEPT: image/png\r\n" +
		"x-request-id: abc\r\ninference-header-content-length: 12\r\n\r\n"
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = req
	for _, tc := range []struct{ key, want string }{
		{"Content-Type", "application/json"},
		{"Accept", "image/png"},
		{"X-Request-Id", "abc"},
		{"Inference-Header-Content-Length", "12"},
		{"Authorization", ""}, // absent
	} {
		if http.CanonicalHeaderKey(tc.key) != tc.key {
			t.Fatalf("test key %q is not canonical", tc.key)
		}
		if got := Header(c, tc.key); got != tc.want {
			t.Errorf("Header(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	SetHeader(c, "X-Request-Id", "abc")
	c.Writer.WriteHeaderNow()
	if got := w.Result().Header.Get("x-request-id"); got != "abc" {
		t.Errorf("SetHeader: the answer's X-Request-Id is %q, want abc", got)
	}
}
