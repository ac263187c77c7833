package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
	v1 "github.com/onnxserve/onnxserve/handlers/v1"
	"github.com/onnxserve/onnxserve/runtime"
)

// The unversioned probes, for load balancers and orchestrators that know
// nothing of either protocol; errors come in the /v1 form.

// Health is the body of /healthz and /readyz.
type Health struct {
	Status      string `json:"status" example:"ok"`
	ONNXRuntime string `json:"onnxruntime" example:"1.24.3"`
}

type health struct{ env *rest.Env }

// live godoc
//
//	@Summary	Liveness: the process is up
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	Health
//	@Router		/healthz [get]
func (h health) live(c *gin.Context) {
	c.JSON(http.StatusOK, Health{Status: "ok", ONNXRuntime: runtime.Version()})
}

// ready godoc
//
//	@Summary	Readiness: every model in the repository is loaded
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	Health
//	@Failure	503	{object}	v1.Error
//	@Router		/readyz [get]
func (h health) ready(c *gin.Context) {
	if h.env.Core.Draining() {
		v1.Fail(h.env, c, inference.Errorf(inference.Unavailable, "shutting down"))
		return
	}
	if !h.env.Core.Ready() {
		v1.Fail(h.env, c, inference.Errorf(inference.Unavailable, "not every model is loaded; see /v1/models"))
		return
	}
	c.JSON(http.StatusOK, Health{Status: "ready", ONNXRuntime: runtime.Version()})
}
