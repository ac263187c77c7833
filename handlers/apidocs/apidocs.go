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
func Handler(core *inference.Core) gin.HandlerFunc {
	d := &spec{core: core, generation: ^uint64(0)}
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
			c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no spec at /swagger" + p})
			return
		}
		ui(c)
	}
}
