package rest

import (
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/sizeclass"
)

// Buffers recycles the byte buffers of request bodies and of the responses
// written into them, by size class (handlers/sizeclass): a batch of 32 MLP
// rows is 100 KB, fresh garbage on every request otherwise, and a 500 KB
// body's buffer must not go to a 200-byte answer. The zero value is ready
// to use.
type Buffers struct {
	p sizeclass.Pool[byte]
	// unsized is the length of the last body read without a declared
	// length (chunked), which ForBody looks for the next such body's
	// buffer by: its own length is known only once it has all come.
	unsized atomic.Int64
}

// Get returns an empty buffer of capacity at least n, and up to about
// twice that; Put it back once nothing uses its bytes.
func (p *Buffers) Get(n int) *[]byte {
	if b, ok := p.p.Get(n); ok {
		return b
	}
	b := sizeclass.Make[byte](0, n)
	return &b
}

// ForBody returns an empty buffer for c's request body: a recycled one
// that holds the declared Content-Length (and Slack twice: /v2 aligns its
// binary data in it), or for a body without one (chunked) the last such
// body's length, or a new one of what ReadBody would reserve first.
// It makes no buffer of the declared size up front: a client can declare
// 32 MiB and send nothing.
func (p *Buffers) ForBody(c *gin.Context, limit int64) *[]byte {
	n := c.Request.ContentLength
	switch {
	case n > limit:
		return p.Get(sizeclass.Min)
	case n < 0:
		n = min(p.unsized.Load(), limit)
	}
	want := int(n) + 2*Slack
	if b, ok := p.p.Get(want); ok {
		return b
	}
	b := sizeclass.Make[byte](0, min(want, firstRead))
	return &b
}

// ReadBody appends the request body to buf within limit, reserving it
// from lease first (readBody says how it grows and fails), and notes the
// length of a body read without a declared one, for ForBody.
func (p *Buffers) ReadBody(buf []byte, c *gin.Context, limit int64, lease *inference.Lease) ([]byte, error) {
	start := len(buf)
	buf, err := readBody(buf, c, limit, lease)
	if err == nil && c.Request.ContentLength < 0 {
		p.unsized.Store(int64(len(buf) - start))
	}
	return buf, err
}

// Put recycles b; nothing may use its bytes afterwards.
func (p *Buffers) Put(b *[]byte) { p.p.Put(b) }
