package handlers_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// rawExchange sends req as it is on a connection of its own and returns
// the answer's status, Content-Type and body.
func rawExchange(t *testing.T, addr, req string) (int, string, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a bound on the wait, not a speed check
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// TestErrorAnswersAreJSON pins that every error the application answers
// is the JSON error body, the Swagger UI's included (gin-swagger writes a
// plain "Not Found", webdav and http.ServeContent their status texts), and
// that what Go's HTTP server answers itself, before any handler runs, is
// what the README lists.
func TestErrorAnswersAreJSON(t *testing.T) {
	srv, _ := servertest.Start(t, "../models", servertest.Options{MaxBodyBytes: 1 << 20})
	addr := srv.Listener.Addr().String()
	get := func(path, headers string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + headers + "Connection: close\r\n\r\n"
	}
	ours := []struct {
		name   string
		req    string
		status int
		error  string
	}{
		{"a file the Swagger UI lacks", get("/swagger/nope.txt", ""), 404, "not found: /swagger/nope.txt"},
		{"the Swagger UI's folder", get("/swagger/", ""), 404, "not found: /swagger/"},
		{"a range past a UI file's end", get("/swagger/swagger-ui.css", "Range: bytes=999999999-\r\n"), 416, "requested range not satisfiable: /swagger/swagger-ui.css"},
		{"a UI file's ETag that does not match", get("/swagger/swagger-ui.css", "If-Match: \"nope\"\r\n"), 412, "precondition failed: /swagger/swagger-ui.css"},
		{"an unknown route", get("/nope", ""), 404, "no route GET /nope"},
		{"a wrong method", "DELETE /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", 405, "method DELETE not allowed on /healthz"},
		{"a body that is not JSON", "POST /v1/models/iris/predict HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{", 400, ""},
		// Refused on its declared length, before a byte of it is read:
		// sending the body too would race the server's close of the
		// connection (a reset, on the client's write or its read).
		{"a body over the limit", "POST /v2/models/iris/infer HTTP/1.1\r\nHost: test\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n", 413, "request body larger than 1048576 bytes"},
	}
	for _, tc := range ours {
		status, ctype, body := rawExchange(t, addr, tc.req)
		var e struct{ Error string }
		if status != tc.status || !strings.HasPrefix(ctype, "application/json") || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" || tc.error != "" && e.Error != tc.error {
			t.Errorf("%s: %d %s %q, want %d with the JSON error %q", tc.name, status, ctype, body, tc.status, tc.error)
		}
	}
	// Go's HTTP server answers these before any handler runs, in plain
	// text: the README's list.
	goes := []struct {
		name   string
		req    string
		status int
	}{
		{"a malformed request line", "GARBAGE\r\n\r\n", 400},
		{"an HTTP/1.1 request without Host", "GET /healthz HTTP/1.1\r\n\r\n", 400},
		{"a malformed Content-Length", "POST /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: x\r\n\r\n", 400},
		{"headers over --max-header-bytes", get("/healthz", "X-Padding: "+strings.Repeat("x", 2<<20)+"\r\n"), 431},
		{"an unknown Expect", get("/healthz", "Expect: magic\r\n"), 417},
		{"a Transfer-Encoding other than chunked", "POST /healthz HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"an unsupported HTTP version", "GET /healthz HTTP/2.0\r\nHost: test\r\n\r\n", 505},
	}
	for _, tc := range goes {
		if status, ctype, body := rawExchange(t, addr, tc.req); status != tc.status || strings.HasPrefix(ctype, "application/json") {
			t.Errorf("%s: %d %s %q, want Go's own %d", tc.name, status, ctype, body, tc.status)
		}
	}
}
