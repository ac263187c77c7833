package rest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
)

// Buffers recycles the byte buffers of request bodies and of the responses
// written into them: a batch of 32 MLP rows is 100 KB, fresh garbage on
// every request otherwise. The zero value is ready to use.
type Buffers struct{ p sync.Pool }

// maxPooledBuf keeps one huge body or response from pinning its buffer for good.
const maxPooledBuf = 4 << 20

// Get returns an empty buffer; Put it back once nothing uses its bytes.
func (p *Buffers) Get() *[]byte {
	if b, ok := p.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

// Put recycles b; nothing may use its bytes afterwards.
func (p *Buffers) Put(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	p.p.Put(b)
}

// firstRead is how much of a declared Content-Length ReadBody reserves
// before any byte has come: a client can declare 32 MiB and send nothing.
const firstRead = 64 << 10

// ReadBody appends the request body to buf, reusing its capacity. The
// buffer grows with the bytes that arrive, doubling but never past the
// declared Content-Length, so a body that comes whole costs no more than
// about one extra copy of itself, and one that only declares its length
// costs nothing. A body over limit is a ResourceExhausted error; one that
// does not arrive within the server's ReadTimeout is RequestTimeout; one
// the client breaks off or mangles is Malformed: the client's fault, not
// the server's.
func ReadBody(buf []byte, c *gin.Context, limit int64) ([]byte, error) {
	r := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	declared := int64(-1)
	if n := c.Request.ContentLength; n > 0 && n <= limit {
		declared = n + 1 // +1: the read that sees EOF needs room
		buf = slices.Grow(buf, int(min(declared, firstRead)))
	}
	for {
		if len(buf) == cap(buf) {
			more := max(len(buf), 4096)
			if declared > 0 {
				more = int(min(int64(more), max(declared-int64(len(buf)), 1)))
			}
			buf = slices.Grow(buf, more)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return buf, &inference.Error{Kind: inference.ResourceExhausted, Message: fmt.Sprintf("request body larger than %d bytes", mb.Limit), Err: err}
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return buf, &inference.Error{Kind: inference.RequestTimeout, Message: "the request body did not arrive in time", Err: err}
			}
			return buf, &inference.Error{Kind: inference.Malformed, Message: "reading the request body: " + err.Error(), Err: err}
		}
	}
}
