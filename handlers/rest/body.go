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

// Slack is the room ReadBody leaves after a body whose length is declared,
// so that a front end can move the body up to that many bytes along in
// place (/v2 aligns its binary tensors to 64 bytes) instead of copying
// it into a new buffer.
const Slack = 64

// ReadBody appends the request body to buf, reusing its capacity, and
// reserves what it holds from lease first: the declared Content-Length at
// once, or for a body sent without one (chunked) each growth of the
// buffer before it is made. The buffer grows with the bytes that arrive,
// and never past the declared length or the limit: a body whose length is
// declared gets the first 64 KiB, and once those have come, the rest of
// its declared length at once, so that a body that comes whole is
// allocated once (doubling allocated it twice) and one that only declares
// its length costs 64 KiB; a body without a length doubles its buffer,
// taking the rest up to the limit at once when that is less than twice
// what it has, so that it stops at the limit. A body over limit (declared
// so, or found so) is a ResourceExhausted error, one the budget cannot
// hold now is Overloaded, one that does not arrive within the server's
// ReadTimeout is RequestTimeout, and one the client breaks off or mangles
// is Malformed: the client's fault, not the server's.
func ReadBody(buf []byte, c *gin.Context, limit int64, lease *inference.Lease) ([]byte, error) {
	declared := c.Request.ContentLength
	if declared > limit {
		return buf, tooLarge(limit, nil)
	}
	// most is the largest the buffer needs to be: +1, as the read that
	// sees EOF needs room.
	most := int64(len(buf)) + limit + 1
	if declared >= 0 {
		if err := lease.Cover(declared); err != nil {
			return buf, err
		}
		most = int64(len(buf)) + declared + Slack
		buf = slices.Grow(buf, int(min(declared+Slack, firstRead)))
	}
	r := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	for {
		if len(buf) == cap(buf) {
			rest := max(most-int64(len(buf)), 1)
			more := int64(max(len(buf), 4096))
			if declared >= 0 || rest <= 2*more {
				more = rest
			}
			if declared < 0 {
				if err := lease.Cover(int64(len(buf)) + more); err != nil {
					return buf, err
				}
			}
			// Exactly what is asked for: slices.Grow rounds a doubling up
			// by a quarter more, and past the limit.
			grown := make([]byte, len(buf), int64(len(buf))+more)
			buf = grown[:copy(grown, buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return buf, tooLarge(mb.Limit, err)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return buf, &inference.Error{Kind: inference.RequestTimeout, Message: "the request body did not arrive in time", Err: err}
			}
			return buf, &inference.Error{Kind: inference.Malformed, Message: "reading the request body: " + err.Error(), Err: err}
		}
	}
}

func tooLarge(limit int64, err error) error {
	return &inference.Error{Kind: inference.ResourceExhausted, Message: fmt.Sprintf("request body larger than %d bytes", limit), Err: err}
}
