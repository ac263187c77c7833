// Package handlers is onnxserve's HTTP layer: routing, request decoding and
// validation, response encoding, and the mapping of errors to statuses.
// It knows nothing of cgo; everything ONNX Runtime lives in package runtime.
//
// swag documents one path per annotated declaration, so a route that shares
// its handler with another (the /versions/{version} forms) carries its
// annotations on a blank `func _() {}` beside that handler.
package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	ginSwagger "github.com/swaggo/gin-swagger"

	"github.com/onnxserve/onnxserve/runtime"
)

//	@title				onnxserve
//	@version			0.1
//	@description		ONNX models as validated REST APIs. Every model in the repository gets its own predict endpoint below, with a request schema built from the model's inputs and config.yaml.
//	@description		Errors are always `{"error": "...", "details": [{"field": "...", "message": "..."}]}`: 400 malformed JSON, 404 unknown model or version, 413 body too large, 422 a body that does not fit the model, 500 an ONNX Runtime failure.
//	@BasePath			/
//	@accept				json
//	@produce			json
//	@tag.name			models
//	@tag.description	List and describe the served models.
//	@tag.name			predict
//	@tag.description	Run a model. Each model also has its own path with a schema of its own.
//	@tag.name			health
//	@tag.description	Liveness and readiness probes.
//	@tag.name			v2
//	@tag.description	The Open Inference Protocol (KServe v2, as Triton serves it), with the binary tensor and classification extensions. Errors are `{"error": "..."}`: 400 for a request that is malformed or does not fit the model, 404 unknown model or version.
//	@tag.name			v2 repository
//	@tag.description	Triton's model repository extension: index, load (or reload), unload. Load and unload need --model-control=explicit.

// Options configure the HTTP API.
type Options struct {
	Repository *runtime.Repository
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// ModelControl is how models may change at run time; only explicit
	// allows the v2 load and unload endpoints. "" is none.
	ModelControl runtime.ModelControl
}

// Server holds what the handlers share. It has no mutable state of its
// own beyond the cached API docs.
type Server struct {
	repo         *runtime.Repository
	maxBody      int64
	log          *slog.Logger
	docs         *apiDocs
	modelControl runtime.ModelControl
}

// New returns the HTTP handler serving the whole API: the one route table.
func New(opt Options) http.Handler {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 32 << 20
	}
	s := &Server{repo: opt.Repository, maxBody: opt.MaxBodyBytes, log: opt.Logger, docs: newAPIDocs(opt.Repository),
		modelControl: opt.ModelControl}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true // c.Done()/c.Err() follow the request's context
	r.Use(gin.CustomRecoveryWithWriter(nil, s.recovered))
	r.NoRoute(func(c *gin.Context) {
		s.fail(c, &Error{Kind: KindNotFound, Message: "no route " + c.Request.Method + " " + c.Request.URL.Path})
	})
	r.NoMethod(func(c *gin.Context) {
		s.fail(c, &Error{Kind: KindMethodNotAllowed, Message: "method " + c.Request.Method + " not allowed on " + c.Request.URL.Path})
	})

	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/swagger/index.html") })
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)

	v1 := r.Group("/v1")
	v1.GET("/models", s.listModels)
	v1.GET("/models/:name", s.getModel)
	v1.GET("/models/:name/versions/:version", s.getModel)
	v1.POST("/models/:name/predict", s.predict)
	v1.POST("/models/:name/versions/:version/predict", s.predict)

	// The Open Inference Protocol (KServe v2), with Triton's binary tensor,
	// classification and model repository extensions.
	v2 := r.Group("/v2")
	v2.GET("", s.v2Server)
	v2.GET("/health/live", s.v2Live)
	v2.GET("/health/ready", s.v2Ready)
	v2.GET("/models/:name", s.v2Model)
	v2.GET("/models/:name/versions/:version", s.v2Model)
	v2.GET("/models/:name/ready", s.v2ModelReady)
	v2.GET("/models/:name/versions/:version/ready", s.v2ModelReady)
	v2.POST("/models/:name/infer", s.v2Infer)
	v2.POST("/models/:name/versions/:version/infer", s.v2Infer)
	v2.POST("/repository/index", s.v2Index)
	v2.POST("/repository/models/:name/load", s.v2Load)
	v2.POST("/repository/models/:name/unload", s.v2Unload)

	ui := ginSwagger.WrapHandler(swaggerUIFiles(), ginSwagger.DefaultModelsExpandDepth(1))
	r.GET("/swagger/*any", func(c *gin.Context) {
		// doc.json is built from the live models; the rest is the static UI.
		if c.Param("any") == "/doc.json" {
			c.Data(http.StatusOK, "application/json; charset=utf-8", s.docs.get())
			return
		}
		ui(c)
	})
	return r
}

func (s *Server) recovered(c *gin.Context, v any) {
	s.log.Error("panic in handler", "path", c.Request.URL.Path, "panic", v)
	s.fail(c, &Error{Kind: KindInternal, Message: "internal error"})
}
