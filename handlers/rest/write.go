package rest

import (
	"strconv"

	"github.com/gin-gonic/gin"
)

// contentTypes are the Content-Type values of the answers on the request
// path, made once: a header value is a []string, and gin's c.Data makes
// one per answer, with a render value and the Content-Length's string.
// Never written to: Header.Set replaces a value, and Add appends to a
// slice without room, which copies it.
var contentTypes = map[string][]string{
	"application/json":                {"application/json"},
	"application/json; charset=utf-8": {"application/json; charset=utf-8"},
	"application/octet-stream":        {"application/octet-stream"},
}

// smallAnswer is the size up to which net/http sets an answer's
// Content-Length itself: it buffers that much (its
// bufferBeforeChunkingSize) and, when the handler returns with no more
// written, knows the length. Past it, without one, it would chunk.
const smallAnswer = 2048

// Write writes body, one part after the other, with status and content
// type ctype, as c.Data does, without allocating for the answers of the
// request path.
func Write(c *gin.Context, status int, ctype string, body ...[]byte) {
	h := c.Writer.Header()
	if v, ok := contentTypes[ctype]; ok {
		h["Content-Type"] = v
	} else {
		h.Set("Content-Type", ctype)
	}
	n := 0
	for _, b := range body {
		n += len(b)
	}
	if n > smallAnswer {
		h.Set("Content-Length", strconv.Itoa(n))
	}
	c.Status(status)
	for _, b := range body {
		c.Writer.Write(b) // a failed write is the client gone; nothing to answer
	}
}
