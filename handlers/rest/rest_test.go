package rest

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/sizeclass"
)

// TestStatus pins the Open Inference Protocol's status for every kind,
// as Triton's HTTP server answers them.
func TestStatus(t *testing.T) {
	for k, want := range map[inference.Kind]int{
		inference.Internal:           500,
		inference.InvalidArgument:    400,
		inference.Malformed:          400,
		inference.FailedPrecondition: 400,
		inference.NotFound:           404,
		inference.ResourceExhausted:  413,
		inference.Unavailable:        503,
		inference.Overloaded:         503,
		inference.NotAllowed:         503,
		inference.Cancelled:          499,
		inference.DeadlineExceeded:   504,
		inference.Unimplemented:      405,
		// RFC 9110's: 401 a missing or unknown key, 403 a key without the
		// scope, 415 a body of a content type not taken.
		inference.Unauthenticated:      401,
		inference.PermissionDenied:     403,
		inference.UnsupportedMediaType: 415,
	} {
		if got := Status(k); got != want {
			t.Errorf("Status(%v) = %d, want %d", k, got, want)
		}
	}
}

func testContext(body string, length int64) (*gin.Context, *httptest.ResponseRecorder) {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("POST", "/", strings.NewReader(body))
	c.Request.ContentLength = length
	return c, w
}

// TestReadBody pins that a body within the limit is read whole, whatever
// Content-Length claims, and one past it is a ResourceExhausted error.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		body   string
		length int64 // Content-Length as sent; -1 unknown (chunked)
		limit  int64
		ok     bool
	}{
		{"hello", 5, 5, true},
		{"hello", -1, 5, true},
		{"hello", 5, 4, false},
		{"hello", -1, 4, false},
		{strings.Repeat("x", 10000), -1, 1 << 20, true},
	} {
		c, _ := testContext(tc.body, tc.length)
		got, err := readBody(nil, c, tc.limit, &inference.Lease{})
		var e *inference.Error
		switch {
		case tc.ok && (err != nil || string(got) != tc.body):
			t.Errorf("%d bytes, limit %d: %q %v", len(tc.body), tc.limit, got, err)
		case !tc.ok && (!errors.As(err, &e) || e.Kind != inference.ResourceExhausted || !strings.Contains(e.Message, "larger than")):
			t.Errorf("%d bytes, limit %d: %v, want ResourceExhausted", len(tc.body), tc.limit, err)
		}
	}
}

// brokenBody sends some bytes of a body, then breaks off, as a client that
// declared more than it sends and went away.
type brokenBody struct{ sent bool }

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.sent {
		return 0, io.ErrUnexpectedEOF
	}
	b.sent = true
	return copy(p, "0123456789"), nil
}

func (b *brokenBody) Close() error { return nil }

// TestReadBodyGrowsWithArrivals pins that a declared Content-Length is not
// taken on trust: a client that declares 32 MiB and sends 10 bytes makes
// the buffer no larger than the first read's reserve, and its breaking
// off is its own fault (Malformed), not the server's.
func TestReadBodyGrowsWithArrivals(t *testing.T) {
	c, _ := testContext("", 32<<20)
	c.Request.Body = &brokenBody{}
	got, err := readBody(nil, c, 32<<20, &inference.Lease{})
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.Malformed || string(got) != "0123456789" {
		t.Fatalf("ReadBody = %q %v, want the 10 bytes and a Malformed error", got, err)
	}
	if cap(got) > firstRead+1 {
		t.Errorf("a body that declared 32 MiB and sent 10 bytes took a %d-byte buffer", cap(got))
	}
	// A body that does come whole ends in a buffer of about its size.
	body := strings.Repeat("x", 3<<20)
	c, _ = testContext(body, int64(len(body)))
	got, err = readBody(nil, c, 32<<20, &inference.Lease{})
	if err != nil || len(got) != len(body) || cap(got) > 2*len(body) {
		t.Errorf("a 3 MiB body: %d bytes in a %d-byte buffer, %v", len(got), cap(got), err)
	}
}

// TestFail pins what an error response carries beside its body:
// Retry-After in whole seconds for a refusal that has one, and a log line
// for the server's own failures but not for client mistakes, shed load or
// other refusals.
func TestFail(t *testing.T) {
	for _, tc := range []struct {
		e          *inference.Error
		status     int
		retryAfter string
		logged     bool
	}{
		{&inference.Error{Kind: inference.Overloaded, Message: "full", RetryAfter: 1500 * time.Millisecond}, 503, "2", false},
		{&inference.Error{Kind: inference.Unavailable, Message: "not loaded"}, 503, "", false},
		{&inference.Error{Kind: inference.Internal, Message: "ort", Err: errors.New("cause")}, 500, "", true},
		{&inference.Error{Kind: inference.InvalidArgument, Message: "bad"}, 400, "", false},
	} {
		var log bytes.Buffer
		env := &Env{Logger: slog.New(slog.NewTextHandler(&log, nil))}
		c, w := testContext("", 0)
		env.Fail(c, tc.status, tc.e, map[string]string{"error": tc.e.Message})
		if w.Code != tc.status || w.Header().Get("Retry-After") != tc.retryAfter || !strings.Contains(w.Body.String(), tc.e.Message) {
			t.Errorf("%v: %d Retry-After %q %s", tc.e.Message, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if logged := log.Len() > 0; logged != tc.logged {
			t.Errorf("%v: logged %v, want %v: %s", tc.e.Message, logged, tc.logged, log.String())
		}
		if tc.e.Err != nil && !strings.Contains(log.String(), tc.e.Err.Error()) {
			t.Errorf("%v: the log does not name the cause: %s", tc.e.Message, log.String())
		}
	}
}

// TestBuffersBySize pins what the pool hands back: an empty buffer about
// the size asked for, never one more than twice it (a server that has
// read 500 KB bodies does not lend them to 100 KB bodies and 200-byte
// answers), nor one over the pool's limit; and a body read into a buffer
// from ForBody is recycled for the next body of its length, where a new
// buffer would be only ReadBody's first 64 KiB.
func TestBuffersBySize(t *testing.T) {
	var p Buffers
	for range 8 {
		big := make([]byte, 0, 500<<10)
		p.Put(&big)
		huge := make([]byte, 0, sizeclass.DefaultLimit+1)
		p.Put(&huge)
	}
	for _, n := range []int{0, 200, 100 << 10} {
		b := p.Get(n)
		if len(*b) != 0 || cap(*b) < n || cap(*b) > 2*max(n, sizeclass.Min) {
			t.Errorf("Get(%d): len %d cap %d", n, len(*b), cap(*b))
		}
	}
	c, _ := testContext("", 100<<10)
	if b := p.ForBody(c, 32<<20); cap(*b) > 2*(100<<10) {
		t.Errorf("ForBody for 100 KiB: a buffer of %d bytes", cap(*b))
	}

	body := strings.Repeat("x", 100403)
	reused := false
	// sync.Pool drops some of what it is given under the race detector.
	for range 20 {
		c, _ := testContext(body, int64(len(body)))
		b := p.ForBody(c, 32<<20)
		if cap(*b) >= len(body) {
			reused = true
			break
		}
		got, err := readBody(*b, c, 32<<20, &inference.Lease{})
		if err != nil || len(got) != len(body) {
			t.Fatalf("ReadBody: %d bytes, %v", len(got), err)
		}
		*b = got
		p.Put(b)
	}
	if !reused {
		t.Error("a 100403-byte body's buffer was never given to the next such body")
	}

	// A body sent without a length (chunked) is found by the last such
	// body's: its buffer, grown as it came, goes to the next.
	reused = false
	for range 20 {
		c, _ := testContext(body, -1)
		b := p.ForBody(c, 32<<20)
		if cap(*b) >= len(body) {
			reused = true
			break
		}
		got, err := p.ReadBody(*b, c, 32<<20, &inference.Lease{})
		if err != nil || len(got) != len(body) {
			t.Fatalf("ReadBody, chunked: %d bytes, %v", len(got), err)
		}
		*b = got
		p.Put(b)
	}
	if !reused {
		t.Error("a chunked 100403-byte body's buffer was never given to the next such body")
	}
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}
