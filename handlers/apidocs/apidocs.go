// Package apidocs serves the API documentation: the OpenAPI (Swagger 2.0)
// specs, an index and one per loaded model, and the Swagger UI.
package apidocs

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	ginSwagger "github.com/swaggo/gin-swagger"

	"github.com/onnxserve/onnxserve/handlers/inference"
)

// Handler serves /swagger/*any: doc.json (the index), models/NAME/doc.json
// (a model's own spec) and swagger-initializer.js (the UI's definition
// selector) are built from the live models; the rest is the static UI.
// The UI's own error answers (gin-swagger's plain "Not Found", webdav's
// and http.ServeContent's status texts) are held back and answered by fail
// instead, with their status, so that every error of the server is in the
// one JSON form.
//
// With secured, the specs declare the API key schemes and which
// operations need a key, so that the UI's Authorize button takes one and
// "Try it out" sends it. maxBodyBytes is the server's bound on a body,
// which the 413 examples state.
func Handler(core *inference.Core, secured bool, maxBodyBytes int64, fail func(c *gin.Context, status int, message string)) gin.HandlerFunc {
	d := &spec{core: core, secured: secured, maxBodyBytes: maxBodyBytes, generation: ^uint64(0)}
	ui := ginSwagger.WrapHandler(swaggerUIFiles(), ginSwagger.DefaultModelsExpandDepth(1))
	const jsonType = "application/json; charset=utf-8"
	return func(c *gin.Context) {
		p := c.Param("any")
		switch {
		case p == "/doc.json":
			d.get().index.Write(c, jsonType)
			return
		case p == "/swagger-initializer.js":
			c.Data(http.StatusOK, "application/javascript", d.get().initializer)
			return
		case strings.HasPrefix(p, "/models/"):
			name, ok := strings.CutSuffix(strings.TrimPrefix(p, "/models/"), "/doc.json")
			if doc, found := d.get().models[name]; ok && found {
				doc.Write(c, jsonType)
				return
			}
			// Not the UI's: gin-swagger would answer any */doc.json with
			// the static spec.
			fail(c, http.StatusNotFound, "no spec at /swagger"+p)
			return
		}
		w := &errorHolder{ResponseWriter: c.Writer}
		c.Writer = w
		ui(c)
		c.Writer = w.ResponseWriter
		if w.status != 0 {
			// The UI set its own Content-Type (text/plain) and length.
			for _, h := range []string{"Content-Type", "Content-Length", "X-Content-Type-Options"} {
				c.Writer.Header().Del(h)
			}
			fail(c, w.status, strings.ToLower(http.StatusText(w.status))+": "+c.Request.URL.Path)
		}
	}
}

// errorHolder passes a response through unless its status is an error:
// then it writes nothing and keeps the status.
type errorHolder struct {
	gin.ResponseWriter
	status int
}

func (w *errorHolder) WriteHeader(code int) {
	if code >= http.StatusBadRequest {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *errorHolder) WriteHeaderNow() {
	if w.status == 0 {
		w.ResponseWriter.WriteHeaderNow()
	}
}

func (w *errorHolder) Write(b []byte) (int, error) {
	if w.status != 0 {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *errorHolder) WriteString(s string) (int, error) {
	if w.status != 0 {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}
