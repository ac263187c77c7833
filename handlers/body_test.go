package handlers_test

import (
	"bufio"
	"net"
	"net/http"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// Hostile or careless request bodies. A request that only declares a large
// body must cost the server nothing it has not received (50 such
// connections once took 1.6 GB), and what ONNX Runtime would misread must
// be refused rather than answered wrongly.

// TestUnknownModelAnsweredBeforeBody pins that the model a request names
// is found before its body is read: a request for an unknown model that
// declares 32 MiB and sends none of it is answered 404 at once, on both
// protocols, instead of the server waiting for (and buffering) the body.
func TestUnknownModelAnsweredBeforeBody(t *testing.T) {
	srv, _ := servertest.Start(t, "../models", servertest.Options{MaxBodyBytes: 32 << 20})
	for _, path := range []string{"/v1/models/nope/predict", "/v2/models/nope/infer", "/v2/models/iris/versions/9/infer"} {
		if status, err := headersOnly(srv.Listener.Addr().String(), path); err != nil || status != http.StatusNotFound {
			t.Errorf("%s: %d %v, want 404 without the body", path, status, err)
		}
	}
}

// headersOnly sends a request that declares a 32 MiB body and none of it,
// and returns the status of the answer.
func headersOnly(addr, path string) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close() // so that a server still reading the body lets go
	// A bound on the wait, not a speed check: a server that reads the body
	// first never answers.
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 33554432\r\n\r\n")); err != nil {
		return 0, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// TestDeclaredLengthIsNotReserved pins that bodies grow with the bytes
// that arrive: connections that declare 32 MiB each, send a few bytes and
// go away make the server allocate a small fraction of what they declared.
func TestDeclaredLengthIsNotReserved(t *testing.T) {
	const conns = 16
	closed := make(chan struct{}, conns)
	srv, _ := servertest.Start(t, "../models", servertest.Options{MaxBodyBytes: 32 << 20, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}})
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	for i := range conns {
		path := "/v1/models/iris/predict"
		if i%2 == 1 {
			path = "/v2/models/iris/infer"
		}
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		head := "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: 33554432\r\n\r\n"
		if _, err := conn.Write([]byte(head + strings.Repeat(" ", 100))); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	for range conns {
		select {
		case <-closed: // the server is done with the connection, handler and all
		case <-time.After(30 * time.Second):
			t.Fatal("the server did not close a connection its client closed")
		}
	}
	goruntime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > conns<<20 {
		t.Errorf("%d connections that declared 32 MiB and sent 100 bytes made the server allocate %d MiB", conns, got>>20)
	}
}

// TestNULInStringsRefused pins that a string element with a NUL byte is
// refused, naming the input and the element, on every protocol and form:
// ONNX Runtime would cut it at the NUL and answer for "red" what was sent
// as "red\x00junk".
func TestNULInStringsRefused(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Load: []string{"strings"}})
	want := "input 'text': element 1 holds a NUL byte"
	res := do(t, "POST", srv.URL+"/v1/models/strings/predict", `{"inputs": {"text": ["red", "red\u0000junk"]}}`)
	if res.Status != 422 || !strings.Contains(string(res.Body), want) || !strings.Contains(string(res.Body), `"field":"inputs.text"`) {
		t.Errorf("/v1: %d %s", res.Status, res.Body)
	}
	res = do(t, "POST", srv.URL+"/v2/models/strings/infer", `{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","data":["red","red\u0000junk"]}]}`)
	if res.Status != 400 || !strings.Contains(string(res.Body), want) {
		t.Errorf("/v2 JSON: %d %s", res.Status, res.Body)
	}
	// The binary tensor extension: 4-byte little-endian lengths, then bytes.
	bin := append([]byte{3, 0, 0, 0}, "red"...)
	bin = append(bin, 8, 0, 0, 0)
	bin = append(bin, "red\x00junk"...)
	header := []byte(`{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":` + strconv.Itoa(len(bin)) + `}}]}`)
	if r := postV2(t, srv.URL+"/v2/models/strings/infer", header, bin, true); r.Status != 400 || !strings.Contains(r.Error, want) {
		t.Errorf("/v2 binary: %d %s", r.Status, r.Error)
	}
	// Without the NUL, the same requests are answered.
	if res := do(t, "POST", srv.URL+"/v1/models/strings/predict", `{"inputs": {"text": ["red", "red junk"]}}`); res.Status != 200 {
		t.Errorf("/v1 without a NUL: %d %s", res.Status, res.Body)
	}
}

// TestInvalidUTF8Refused pins that JSON is UTF-8: a string that is not,
// in a /v1 input, a v2 BYTES element or the v2 id, is a 400 naming its
// offset, not a string the model sees with other bytes than were meant.
func TestInvalidUTF8Refused(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Load: []string{"strings"}})
	for _, c := range []struct{ path, body string }{
		{"/v1/models/strings/predict", "{\"inputs\": {\"text\": [\"r\xffd\"]}}"},
		{"/v2/models/strings/infer", "{\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"r\xc3\"]}]}"},
		{"/v2/models/strings/infer", "{\"id\":\"\xfe\",\"inputs\":[{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"red\"]}]}"},
	} {
		res := do(t, "POST", srv.URL+c.path, c.body)
		if res.Status != 400 || !strings.Contains(string(res.Body), "invalid UTF-8 in a string") {
			t.Errorf("%s %q: %d %s", c.path, c.body, res.Status, res.Body)
		}
	}
	// Valid UTF-8, escaped or not, is taken as it is.
	res := do(t, "POST", srv.URL+"/v1/models/strings/predict", `{"inputs": {"text": ["grün", "gr\u00fcn"]}}`)
	if res.Status != 200 || strings.Count(string(res.Body), "grün") != 2 {
		t.Errorf("valid UTF-8: %d %s", res.Status, res.Body)
	}
}
