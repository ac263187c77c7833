package rest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/sizeclass"
)

// firstRead is how much of a declared Content-Length ReadBody reserves
// before any byte has come: a client can declare 32 MiB and send nothing.
const firstRead = 64 << 10

// Slack is the room ReadBody leaves after a body whose length is declared,
// so that a front end can move the body up to that many bytes along in
// place (/v2 aligns its binary tensors to 64 bytes) instead of copying
// it into a new buffer.
const Slack = 64

// readBody appends the request body to buf, reusing its capacity, and
// reserves what it holds from lease first: the declared Content-Length at
// once, or for a body sent without one (chunked) each growth of the
// buffer before it is made. The buffer grows with the bytes that arrive,
// to what the declared length or the limit needs, rounded up to its size
// class (handlers/sizeclass: at most a quarter more, up to the largest
// class) so that Buffers can give it to the next body of about its size:
// a body whose length is declared gets the first 64 KiB, and once those
// have come, the rest of its declared length at once, so that a body that
// comes whole is allocated once (doubling allocated it twice) and one
// that only declares its length costs 64 KiB; a body without a length
// doubles its buffer, taking the rest up to the limit at once when that
// is less than twice what it has, so that it stops at the limit. A body
// over limit (declared so, or found so) is a ResourceExhausted error, one
// the budget cannot hold now is Overloaded, one that does not arrive
// within the server's ReadTimeout is RequestTimeout, and one the client
// breaks off or mangles is Malformed: the client's fault, not the
// server's.
func readBody(buf []byte, c *gin.Context, limit int64, lease *inference.Lease) ([]byte, error) {
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
		buf = grow(buf, len(buf)+int(min(declared+Slack, firstRead)))
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
			buf = grow(buf, len(buf)+int(more))
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

// grow returns buf with room for n bytes in all, moved to a buffer of
// n's size class when it has less: at most a quarter more than asked for
// (slices.Grow's doubling can take twice), and the size a later body of
// about this length is recycled in.
func grow(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf
	}
	grown := sizeclass.Make[byte](len(buf), n)
	return grown[:copy(grown, buf)]
}

func tooLarge(limit int64, err error) error {
	return &inference.Error{Kind: inference.ResourceExhausted, Message: fmt.Sprintf("request body larger than %d bytes", limit), Err: err}
}
