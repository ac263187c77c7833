package rest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"
)

// jsonFloats is n float32-looking numbers as a JSON array, a tensor's
// answer.
func jsonFloats(n int) []byte {
	b := []byte{'['}
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(float32(i%977)/977), 'g', -1, 32)
	}
	return append(b, ']')
}

func writeJSON(accept string, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("POST", "/", nil)
	if accept != "" {
		c.Request.Header.Set("Accept-Encoding", accept)
	}
	WriteJSON(c, 200, "application/json", body)
	return w
}

// TestWriteJSON pins when an answer is gzipped: from GzipMinBytes on, for
// a client whose Accept-Encoding allows gzip (RFC 9110's q-values and
// "*"), and that the gzip is the same bytes.
func TestWriteJSON(t *testing.T) {
	small, large := jsonFloats(100), jsonFloats(100_000)
	if len(small) >= GzipMinBytes || len(large) < GzipMinBytes {
		t.Fatalf("sizes %d %d", len(small), len(large))
	}
	for _, c := range []struct {
		name, accept string
		body         []byte
		gzip         bool
	}{
		{"small, gzip accepted", "gzip", small, false},
		{"large, no Accept-Encoding", "", large, false},
		{"large, gzip", "gzip, deflate", large, true},
		{"large, GZIP with q", "br;q=1.0, GZIP;q=0.3", large, true},
		{"large, gzip refused", "gzip;q=0, br", large, false},
		{"large, *", "*", large, true},
		{"large, * but not gzip", "*, gzip;q=0", large, false},
		{"large, identity only", "identity", large, false},
	} {
		w := writeJSON(c.accept, c.body)
		got := w.Body.Bytes()
		if (w.Header().Get("Content-Encoding") == "gzip") != c.gzip {
			t.Errorf("%s: Content-Encoding %q", c.name, w.Header().Get("Content-Encoding"))
			continue
		}
		if c.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(got))
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if !bytes.Equal(got, c.body) {
			t.Errorf("%s: body differs", c.name)
		}
		if w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, w.Header().Get("Content-Type"))
		}
		if vary := w.Header().Get("Vary"); (vary == "Accept-Encoding") != (len(c.body) >= GzipMinBytes) {
			t.Errorf("%s: Vary %q", c.name, vary)
		}
	}
}

// BenchmarkWriteJSON is what gzip costs a large answer (1 MiB of floats,
// about 130,000 numbers) against writing it as is.
func BenchmarkWriteJSON(b *testing.B) {
	body := jsonFloats(130_000)
	for _, accept := range []string{"", "gzip"} {
		b.Run("accept="+accept, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				writeJSON(accept, body)
			}
		})
	}
}
