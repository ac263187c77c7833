package rest

import "github.com/gin-gonic/gin"

// Header is the request's first value of the header key, which must be
// in canonical form (http.CanonicalHeaderKey; TestHeader): net/http
// keys a request's headers so when it reads them, HTTP/1 and HTTP/2
// alike, and indexing by that key skips the canonicalisation that
// gin's GetHeader repeats on every call (about 330 instructions each,
// three a /v1 request).
func Header(c *gin.Context, key string) string {
	if v := c.Request.Header[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// SetHeader sets the response header key, in canonical form as Header's,
// to value, as Header().Set would without canonicalising key again.
func SetHeader(c *gin.Context, key, value string) {
	c.Writer.Header()[key] = []string{value}
}
