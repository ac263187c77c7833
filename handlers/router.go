// Package handlers is onnxserve's HTTP API: the one route table and the
// middleware every request passes, over the front ends in its
// subpackages (v1, v2, apidocs), which all call the protocol-neutral core
// (inference).
//
// swag documents one path per annotated declaration, so a route that shares
// its handler with another (the /versions/{version} forms) carries its
// annotations on a blank `func _() {}` beside that handler.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/accesslog"
	"github.com/onnxserve/onnxserve/handlers/apidocs"
	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/cors"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/rest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
	v2 "github.com/onnxserve/onnxserve/handlers/v2"
)

//	@title				onnxserve
//	@version			0.1
//	@description		ONNX models as validated REST APIs. Every model in the repository gets its own predict endpoint, with a request schema built from the model's inputs and config.yaml, in a spec of its own: pick `model: NAME` in the definition selector at the top.
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
	Core *inference.Core
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	MaxBodyBytes int64
	// Metrics, when set, counts every request and is served on /metrics.
	Metrics *metrics.Metrics
	// AccessLog writes one line per request to Logger.
	AccessLog bool
	Logger    *slog.Logger
	// Keys, when enabled, are the API keys the routes need, as package
	// auth's table says; otherwise every route is open.
	Keys *auth.Keys
	// CORS, when set, lets browser pages of its origins call the API.
	CORS *cors.Policy
	// TrustedProxies are the peers whose X-Forwarded-For and X-Real-IP
	// headers name the client in the access log. Any other peer is the
	// client itself: a header anyone can send must not pass for the
	// client's address.
	TrustedProxies []netip.Prefix
}

// New returns the HTTP handler serving the whole API: the one route table
// and the middleware chain every request passes.
func New(opt Options) http.Handler {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 32 << 20
	}
	env := &rest.Env{Core: opt.Core, MaxBodyBytes: opt.MaxBodyBytes, Buffers: &rest.Buffers{}, Logger: opt.Logger}

	r := gin.New()
	// gin trusts every peer's X-Forwarded-For unless told otherwise.
	proxies := make([]string, len(opt.TrustedProxies))
	for i, p := range opt.TrustedProxies {
		proxies[i] = p.String()
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		panic(fmt.Sprintf("trusted proxies %v: %v", proxies, err)) // a netip.Prefix always parses
	}
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true // c.Done()/c.Err() follow the request's context
	r.Use(closeWhenDraining(opt.Core))
	if opt.Metrics != nil || opt.AccessLog {
		r.Use(observe(opt))
	}
	r.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, v any) {
		env.Logger.Error("panic in handler", "path", c.Request.URL.Path, "panic", v)
		v1.Fail(env, c, inference.Errorf(inference.Internal, "internal error"))
	}))
	if opt.CORS != nil {
		r.Use(opt.CORS.Middleware())
	}
	if opt.Keys.Enabled() {
		r.Use(guard(env, opt.Keys))
	}
	r.NoRoute(func(c *gin.Context) {
		v1.Fail(env, c, inference.Errorf(inference.NotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		v1.Fail(env, c, inference.Errorf(inference.Unimplemented, "method %s not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})

	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/swagger/index.html") })
	h := health{env}
	r.GET("/healthz", h.live)
	r.GET("/readyz", h.ready)

	api := v1.New(env)
	g := r.Group("/v1")
	g.GET("/models", api.ListModels)
	g.GET("/models/:name", api.GetModel)
	g.GET("/models/:name/versions/:version", api.GetModel)
	g.POST("/models/:name/predict", api.Predict)
	g.POST("/models/:name/versions/:version/predict", api.Predict)

	// The Open Inference Protocol (KServe v2), with Triton's binary tensor,
	// classification and model repository extensions.
	oip := v2.New(env)
	g = r.Group("/v2")
	g.GET("", oip.Server)
	g.GET("/health/live", oip.Live)
	g.GET("/health/ready", oip.Ready)
	g.GET("/models/:name", oip.Model)
	g.GET("/models/:name/versions/:version", oip.Model)
	g.GET("/models/:name/ready", oip.ModelReady)
	g.GET("/models/:name/versions/:version/ready", oip.ModelReady)
	g.POST("/models/:name/infer", oip.Infer)
	g.POST("/models/:name/versions/:version/infer", oip.Infer)
	g.POST("/repository/index", oip.Index)
	g.POST("/repository/models/:name/load", oip.Load)
	g.POST("/repository/models/:name/unload", oip.Unload)

	r.GET("/swagger/*any", apidocs.Handler(opt.Core, opt.Keys.Enabled(), env.MaxBodyBytes, func(c *gin.Context, status int, message string) {
		kind := inference.NotFound // for the log: only the server's own faults are logged
		if status >= http.StatusInternalServerError {
			kind = inference.Internal
		}
		env.Fail(c, status, inference.Errorf(kind, "%s", message), v1.Error{Message: message})
	}))
	if opt.Metrics != nil {
		r.GET("/metrics", gin.WrapH(opt.Metrics.Handler()))
	}
	return r
}

// closeWhenDraining answers with Connection: close once the server is
// shutting down, and net/http then closes the connection after the answer:
// a client told so opens a new connection for its next request (to another
// replica once readiness has turned it away), instead of sending on one
// the server is about to close under it.
func closeWhenDraining(core *inference.Core) gin.HandlerFunc {
	return func(c *gin.Context) {
		if core.Draining() {
			c.Header("Connection", "close")
		}
	}
}

// MetricsHandler is what --metrics-addr serves: /metrics alone, behind
// the same keys as on the API's address.
func MetricsHandler(opt Options) http.Handler {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	env := &rest.Env{Core: opt.Core, Logger: opt.Logger}
	r := gin.New()
	if opt.Keys.Enabled() {
		r.Use(guard(env, opt.Keys))
	}
	r.NoRoute(func(c *gin.Context) {
		v1.Fail(env, c, inference.Errorf(inference.NotFound, "no route %s %s: this address serves /metrics only", c.Request.Method, c.Request.URL.Path))
	})
	r.GET("/metrics", gin.WrapH(opt.Metrics.Handler()))
	return r
}

// observe is the middleware every request passes first when metrics or
// the access log are on: it gives the request its id (the client's
// X-Request-ID, or a new one, echoed in the answer) and a Record for the
// core to fill, and once the request is answered counts it and writes its
// access line.
func observe(opt Options) gin.HandlerFunc {
	// net/http keys headers in canonical form, which accesslog.Header is
	// not: canonical, rest.Header and rest.SetHeader take it as it is.
	idHeader := http.CanonicalHeaderKey(accesslog.Header)
	forwarded := len(opt.TrustedProxies) > 0
	return func(c *gin.Context) {
		start := time.Now()
		if opt.Metrics != nil {
			opt.Metrics.Enter(metrics.HTTPProtocol)
			defer opt.Metrics.Leave(metrics.HTTPProtocol)
		}
		var rec *inference.Record
		id := rest.Header(c, idHeader)
		if opt.AccessLog {
			id = accesslog.ID(id)
			var ctx context.Context
			ctx, rec = inference.WithRecord(c.Request.Context())
			c.Request = c.Request.WithContext(ctx)
		}
		if id != "" {
			rest.SetHeader(c, idHeader, id)
		}
		c.Next()
		if opt.Metrics != nil {
			opt.Metrics.HTTP(c.FullPath(), c.Writer.Status())
		}
		if rec != nil {
			route := c.FullPath()
			if route == "" {
				route = c.Request.URL.Path
			}
			accesslog.Write(c, opt.Logger, accesslog.Line{
				ID: id, Protocol: "http", Method: c.Request.Method, Route: route, Code: c.Writer.Status(),
				Client: client(c, forwarded), BytesIn: max(c.Request.ContentLength, 0), BytesOut: int64(max(c.Writer.Size(), 0)),
				Duration: time.Since(start), Record: rec,
			})
		}
	}
}

// client is the access log's client: the peer's address, or with trusted
// proxies (forwarded) the one gin finds in their forwarding headers.
// Without them the address is read off the connection's, allocation-free,
// where gin parses it and prints it anew.
func client(c *gin.Context, forwarded bool) string {
	if forwarded {
		return c.ClientIP()
	}
	if host, _, err := net.SplitHostPort(c.Request.RemoteAddr); err == nil {
		return host
	}
	return c.Request.RemoteAddr
}
