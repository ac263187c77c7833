package rest

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

// GzipMinBytes is the size from which a JSON answer is gzipped for a
// client that accepts it. Below it the answer is a few TCP segments and
// compressing costs more than it saves; every answer of the small shipped
// models (iris, digits, tabular) is below it, so their path is unchanged.
const GzipMinBytes = 16 << 10

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (RFC 9110 §12.5.3): gzip listed with a q-value other than 0, or, when
// gzip is not listed, "*" so.
func acceptsGzip(r *http.Request) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, h := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(h, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
			switch coding = strings.TrimSpace(coding); {
			case strings.EqualFold(coding, "gzip"):
				gzipQ = q
			case coding == "*":
				starQ = q
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// WriteJSON writes body with status and content type ctype, gzipped (at
// the fastest level: the answer is made per request) when it is at least
// GzipMinBytes and the client accepts gzip. This is the one place that
// decides when an answer is compressed.
func WriteJSON(c *gin.Context, status int, ctype string, body []byte) {
	if len(body) < GzipMinBytes {
		Write(c, status, ctype, body)
		return
	}
	h := c.Writer.Header()
	h.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(c.Request) {
		Write(c, status, ctype, body)
		return
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Encoding", "gzip")
	c.Status(status)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(c.Writer)
	zw.Write(body) // a failed write is the client gone; nothing to answer
	zw.Close()
	zw.Reset(nil)
	gzipWriters.Put(zw)
}

// Precompressed is a document served many times: its bytes and, when it
// is large enough to be worth it, their gzip, made once at the best
// compression.
type Precompressed struct {
	Plain, Gzip []byte
}

// Precompress returns b with its gzip (none below GzipMinBytes).
func Precompress(b []byte) Precompressed {
	p := Precompressed{Plain: b}
	if len(b) >= GzipMinBytes {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		p.Gzip = buf.Bytes()
	}
	return p
}

// Write serves p as ctype: gzipped when there is a gzip and the client
// accepts it.
func (p Precompressed) Write(c *gin.Context, ctype string) {
	if p.Gzip == nil {
		c.Data(http.StatusOK, ctype, p.Plain)
		return
	}
	c.Header("Vary", "Accept-Encoding")
	if !acceptsGzip(c.Request) {
		c.Data(http.StatusOK, ctype, p.Plain)
		return
	}
	c.Header("Content-Encoding", "gzip")
	c.Data(http.StatusOK, ctype, p.Gzip)
}
