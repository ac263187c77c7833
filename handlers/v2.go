package handlers

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/docs"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// The Open Inference Protocol (KServe v2) health and metadata endpoints.
// Where the protocol and Triton differ, these answer as Triton does, so
// that Triton's clients work unchanged: health is told by the status code
// (200, or 400 when not ready), errors are {"error": "..."}.

// v2Extensions are the Triton protocol extensions this server implements.
var v2Extensions = []string{"binary_tensor_data", "classification", "model_repository"}

// v2Platform is Triton's platform name for models run by ONNX Runtime.
const v2Platform = "onnxruntime_onnx"

// v2Server godoc
//
//	@Summary	Server metadata: name, version and protocol extensions
//	@Tags		v2
//	@Produce	json
//	@Success	200	{object}	V2ServerMetadata
//	@Router		/v2 [get]
func (s *Server) v2Server(c *gin.Context) {
	c.JSON(http.StatusOK, V2ServerMetadata{Name: "onnxserve", Version: docs.SwaggerInfo.Version, Extensions: v2Extensions})
}

// v2Live godoc
//
//	@Summary	Liveness: the server can answer metadata and inference requests
//	@Tags		v2
//	@Produce	json
//	@Success	200	{object}	V2Live
//	@Router		/v2/health/live [get]
func (s *Server) v2Live(c *gin.Context) {
	c.JSON(http.StatusOK, V2Live{Live: true})
}

// v2Ready godoc
//
//	@Summary	Readiness: every model that should be loaded is
//	@Tags		v2
//	@Produce	json
//	@Success	200	{object}	V2Ready
//	@Failure	400	{object}	V2Error	"not ready (Triton answers 400)"
//	@Router		/v2/health/ready [get]
func (s *Server) v2Ready(c *gin.Context) {
	if !s.repo.Ready() {
		s.failV2(c, BadRequest("not every model is loaded; see POST /v2/repository/index"))
		return
	}
	c.JSON(http.StatusOK, V2Ready{Ready: true})
}

// v2ModelReady godoc
//
//	@Summary	Model readiness
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Success	200		{object}	V2ModelReady
//	@Failure	400		{object}	V2Error	"the model failed to load (Triton answers 400)"
//	@Failure	404		{object}	V2Error	"unknown or unloaded model or version"
//	@Router		/v2/models/{name}/ready [get]
func (s *Server) v2ModelReady(c *gin.Context) {
	m, release, err := s.repo.Acquire(c.Param("name"), c.Param("version"))
	var un *runtime.UnavailableError
	if errors.As(err, &un) {
		err = BadRequest("model version not ready: %v", un)
	}
	if err != nil {
		s.failV2(c, err)
		return
	}
	defer release()
	c.JSON(http.StatusOK, V2ModelReady{Name: m.Name, Ready: true})
}

// v2ModelVersionReady godoc
//
//	@Summary	Readiness of one model version
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Param		version	path		string	true	"model version"	example(1)
//	@Success	200		{object}	V2ModelReady
//	@Failure	400		{object}	V2Error
//	@Failure	404		{object}	V2Error
//	@Router		/v2/models/{name}/versions/{version}/ready [get]
func _() {}

// v2Model godoc
//
//	@Summary	Model metadata: versions, platform, inputs and outputs with v2 datatypes
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Success	200		{object}	V2ModelMetadata
//	@Failure	404		{object}	V2Error
//	@Failure	503		{object}	V2Error	"the model failed to load"
//	@Router		/v2/models/{name} [get]
func (s *Server) v2Model(c *gin.Context) {
	m, release := s.v2Acquire(c)
	if m == nil {
		return
	}
	defer release()
	c.JSON(http.StatusOK, V2ModelMetadata{
		Name: m.Name, Versions: s.repo.Versions(m.Name), Platform: v2Platform,
		Inputs: v2Tensors(m.Signature.Inputs), Outputs: v2Tensors(m.Signature.Outputs),
	})
}

// v2ModelVersion godoc
//
//	@Summary	Metadata of one model version
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Param		version	path		string	true	"model version"	example(1)
//	@Success	200		{object}	V2ModelMetadata
//	@Failure	404		{object}	V2Error
//	@Failure	503		{object}	V2Error
//	@Router		/v2/models/{name}/versions/{version} [get]
func _() {}

// v2Acquire acquires the model version the URL names, or writes why it
// cannot and returns nil.
func (s *Server) v2Acquire(c *gin.Context) (*runtime.Model, func()) {
	m, release, err := s.repo.Acquire(c.Param("name"), c.Param("version"))
	if err != nil {
		s.failV2(c, err)
		return nil, nil
	}
	return m, release
}

// v2Tensors describes specs in v2 terms, leaving out what has no v2
// datatype (ZipMap's sequences of maps).
func v2Tensors(specs []tensor.TensorSpec) []V2Tensor {
	out := []V2Tensor{}
	for _, s := range specs {
		if name := s.DType.V2Name(); name != "" {
			out = append(out, V2Tensor{Name: s.Name, Datatype: name, Shape: append([]int64{}, s.Shape...)}) // [] for a scalar, never null
		}
	}
	return out
}
