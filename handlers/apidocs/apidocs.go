// Package apidocs serves the API documentation: the OpenAPI (Swagger 2.0)
// spec, with a typed predict path per loaded model, and the Swagger UI.
package apidocs

import (
	"net/http"

	"github.com/gin-gonic/gin"
	ginSwagger "github.com/swaggo/gin-swagger"

	"github.com/onnxserve/onnxserve/handlers/inference"
)

// Handler serves /swagger/*any: doc.json is built from the live models;
// the rest is the static UI. With secured, the spec declares the API key
// schemes and which operations need a key, so that the UI's Authorize
// button takes one and "Try it out" sends it.
func Handler(core *inference.Core, secured bool) gin.HandlerFunc {
	d := &spec{core: core, secured: secured, generation: ^uint64(0)}
	ui := ginSwagger.WrapHandler(swaggerUIFiles(), ginSwagger.DefaultModelsExpandDepth(1))
	return func(c *gin.Context) {
		if c.Param("any") == "/doc.json" {
			c.Data(http.StatusOK, "application/json; charset=utf-8", d.get())
			return
		}
		ui(c)
	}
}
