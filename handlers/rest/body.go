package rest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
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

// ReadBody appends the request body to buf, reusing its capacity (sized
// from Content-Length up front, so a large body is not grown by doubling).
// A body over limit is a ResourceExhausted error.
func ReadBody(buf []byte, c *gin.Context, limit int64) ([]byte, error) {
	r := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if n := c.Request.ContentLength; n > 0 && n <= limit {
		buf = slices.Grow(buf, int(n)+1) // +1: the read that sees EOF needs room
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
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
			return buf, err
		}
	}
}
