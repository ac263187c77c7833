package rest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestWriteLength pins that answers Write makes carry their Content-Length
// over real HTTP, not chunked, whether Write sets it (past smallAnswer) or
// net/http does (up to it), with the type asked for, listed or not.
func TestWriteLength(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	for _, tc := range []struct {
		name  string
		ctype string
		parts []int // sizes of the body's parts
	}{
		{"empty", "application/json", []int{0}},
		{"small", "application/json; charset=utf-8", []int{10}},
		{"at the bound", "application/json", []int{smallAnswer}},
		{"past the bound", "application/json", []int{smallAnswer + 1}},
		{"two parts past it", "application/octet-stream", []int{100, 70000}},
		{"an unlisted type", "text/plain", []int{5000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts [][]byte
			var want []byte
			for i, n := range tc.parts {
				p := bytes.Repeat([]byte{'a' + byte(i)}, n)
				parts, want = append(parts, p), append(want, p...)
			}
			r := gin.New()
			r.GET("/", func(c *gin.Context) { Write(c, http.StatusAccepted, tc.ctype, parts...) })
			srv := httptest.NewServer(r)
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Content-Type") != tc.ctype ||
				resp.ContentLength != int64(len(want)) || len(resp.TransferEncoding) != 0 || !bytes.Equal(got, want) {
				t.Errorf("%d %q, Content-Length %d, Transfer-Encoding %v, %d bytes; want %d %q, Content-Length %d, not chunked, the body",
					resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, resp.TransferEncoding, len(got),
					http.StatusAccepted, tc.ctype, len(want))
			}
		})
	}
}
