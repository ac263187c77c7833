package v2

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/docs"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// extensions are the Triton protocol extensions this server implements.
func extensions() []string {
	return []string{"binary_tensor_data", "classification", "model_repository"}
}

// API is the Open Inference Protocol (KServe v2) front end, with Triton's
// binary tensor, classification and model repository extensions. Where
// the protocol and Triton differ, it answers as Triton does, so that
// Triton's clients work unchanged: health is told by the status code (200,
// or 400 when not ready), errors are {"error": "..."}.
type API struct{ env *rest.Env }

// New returns the /v2 front end over env.
func New(env *rest.Env) *API { return &API{env: env} }

// Server godoc
//
//	@Summary	Server metadata: name, version and protocol extensions
//	@Tags		v2
//	@Produce	json
//	@Success	200	{object}	ServerMetadata
//	@Router		/v2 [get]
func (a *API) Server(c *gin.Context) {
	c.JSON(http.StatusOK, ServerMetadata{Name: "onnxserve", Version: docs.SwaggerInfo.Version, Extensions: extensions()})
}

// Live godoc
//
//	@Summary	Liveness: the server can answer metadata and inference requests
//	@Tags		v2
//	@Produce	json
//	@Success	200	{object}	Live
//	@Router		/v2/health/live [get]
func (a *API) Live(c *gin.Context) {
	c.JSON(http.StatusOK, Live{Live: true})
}

// Ready godoc
//
//	@Summary	Readiness: every model that should be loaded is
//	@Tags		v2
//	@Produce	json
//	@Success	200	{object}	Ready
//	@Failure	400	{object}	Error	"not ready (Triton answers 400)"
//	@Router		/v2/health/ready [get]
func (a *API) Ready(c *gin.Context) {
	if a.env.Core.Draining() {
		a.fail(c, inference.Errorf(inference.FailedPrecondition, "shutting down"))
		return
	}
	if !a.env.Core.Ready() {
		a.fail(c, inference.Errorf(inference.FailedPrecondition, "not every model is loaded; see POST /v2/repository/index"))
		return
	}
	c.JSON(http.StatusOK, Ready{Ready: true})
}

// ModelReady godoc
//
//	@Summary	Model readiness
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Success	200		{object}	ModelReady
//	@Failure	400		{object}	Error	"the model failed to load (Triton answers 400)"
//	@Failure	404		{object}	Error	"unknown or unloaded model or version"
//	@Router		/v2/models/{name}/ready [get]
func (a *API) ModelReady(c *gin.Context) {
	name := c.Param("name")
	if err := a.env.Core.ModelReady(name, c.Param("version")); err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ModelReady{Name: name, Ready: true})
}

// v2ModelVersionReady godoc
//
//	@Summary	Readiness of one model version
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Param		version	path		string	true	"model version"	example(1)
//	@Success	200		{object}	ModelReady
//	@Failure	400		{object}	Error
//	@Failure	404		{object}	Error
//	@Router		/v2/models/{name}/versions/{version}/ready [get]
func _() {}

// Model godoc
//
//	@Summary	Model metadata: versions, platform, inputs and outputs with v2 datatypes
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Success	200		{object}	ModelMetadata
//	@Failure	404		{object}	Error
//	@Failure	503		{object}	Error	"the model failed to load"
//	@Router		/v2/models/{name} [get]
func (a *API) Model(c *gin.Context) {
	m, release, err := a.env.Core.Acquire(c.Param("name"), c.Param("version"))
	if err != nil {
		a.fail(c, err)
		return
	}
	defer release()
	c.JSON(http.StatusOK, ModelMetadata{
		Name: m.Name, Versions: a.env.Core.Versions(m.Name), Platform: inference.Platform,
		Inputs: v2Tensors(m.Signature.Inputs), Outputs: v2Tensors(m.Signature.Outputs),
		Parameters: ModelParameters{ExecutionProvider: string(m.ExecutionProvider)},
	})
}

// v2ModelVersion godoc
//
//	@Summary	Metadata of one model version
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Param		version	path		string	true	"model version"	example(1)
//	@Success	200		{object}	ModelMetadata
//	@Failure	404		{object}	Error
//	@Failure	503		{object}	Error
//	@Router		/v2/models/{name}/versions/{version} [get]
func _() {}

// v2Tensors describes specs in v2 terms.
func v2Tensors(specs []tensor.TensorSpec) []Tensor {
	described := inference.Described(specs)
	out := make([]Tensor, len(described))
	for i, s := range described {
		out[i] = Tensor{Name: s.Name, Datatype: s.DType.V2Name(), Shape: append([]int64{}, s.Shape...)} // [] for a scalar, never null
	}
	return out
}
