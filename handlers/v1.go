package handlers

import (
	"io"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// healthz godoc
//
//	@Summary	Liveness: the process is up
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	Health
//	@Router		/healthz [get]
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, Health{Status: "ok", ONNXRuntime: runtime.Version()})
}

// readyz godoc
//
//	@Summary	Readiness: every model in the repository is loaded
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	Health
//	@Failure	503	{object}	Error
//	@Router		/readyz [get]
func (s *Server) readyz(c *gin.Context) {
	if !s.repo.Ready() {
		s.fail(c, &Error{Kind: KindUnavailable, Message: "not every model is loaded; see /v1/models"})
		return
	}
	c.JSON(http.StatusOK, Health{Status: "ready", ONNXRuntime: runtime.Version()})
}

// listModels godoc
//
//	@Summary	List the models in the repository, loaded or not
//	@Tags		models
//	@Produce	json
//	@Success	200	{object}	ModelList
//	@Router		/v1/models [get]
func (s *Server) listModels(c *gin.Context) {
	list := ModelList{Models: []ModelSummary{}}
	for _, st := range s.repo.Status() {
		sum := ModelSummary{Name: st.Name, State: "READY", Versions: []string{}}
		if st.Err != nil {
			sum.State, sum.Reason = "UNAVAILABLE", st.Err.Error()
		}
		for _, m := range st.Versions {
			sum.Versions = append(sum.Versions, m.Version)
			sum.Description = m.Config.Description
		}
		list.Models = append(list.Models, sum)
	}
	c.JSON(http.StatusOK, list)
}

// getModel godoc
//
//	@Summary	Describe a model: inputs, outputs, features, labels, metadata
//	@Tags		models
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Success	200		{object}	ModelInfo
//	@Failure	404		{object}	Error
//	@Router		/v1/models/{name} [get]
func (s *Server) getModel(c *gin.Context) {
	m, release, err := s.repo.Acquire(c.Param("name"), c.Param("version"))
	if err != nil {
		s.fail(c, err)
		return
	}
	defer release()
	c.JSON(http.StatusOK, s.modelInfo(m))
}

// getModelVersion godoc
//
//	@Summary	Describe one version of a model
//	@Tags		models
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Param		version	path		string	true	"model version"	example(1)
//	@Success	200		{object}	ModelInfo
//	@Failure	404		{object}	Error
//	@Router		/v1/models/{name}/versions/{version} [get]
func _() {}

func (s *Server) modelInfo(m *runtime.Model) ModelInfo {
	info := ModelInfo{
		Name: m.Name, Version: m.Version, Description: m.Config.Description,
		Inputs: tensorInfos(m.Signature.Inputs), Outputs: tensorInfos(m.Signature.Outputs),
		Features: m.Config.Features, Labels: m.Config.Labels, MaxBatchSize: m.Config.MaxBatchSize,
		IntraOpThreads: max(m.Config.IntraOpThreads, 1),
		Metadata:       ModelMetadata(m.Metadata),
	}
	for _, st := range s.repo.Status() {
		if st.Name == m.Name {
			for _, v := range st.Versions {
				info.Versions = append(info.Versions, v.Version)
			}
		}
	}
	return info
}

func tensorInfos(specs []tensor.TensorSpec) []TensorInfo {
	out := make([]TensorInfo, len(specs))
	for i, s := range specs {
		out[i] = TensorInfo{Name: s.Name, DType: s.DType.String(), Shape: s.Shape}
	}
	return out
}

// predict godoc
//
//	@Summary		Run a model (any model; see the per-model paths for typed schemas)
//	@Description	Send one of: the named features as top-level fields (models with `features`), `{"instances": [...]}` with rows or named-feature objects, or `{"inputs": {"NAME": nested arrays}}`.
//	@Tags			predict
//	@Accept			json
//	@Produce		json
//	@Param			name	path		string			true	"model name"	example(iris)
//	@Param			request	body		PredictRequest	true	"inputs"
//	@Success		200		{object}	PredictResponse
//	@Failure		400		{object}	Error	"malformed JSON"
//	@Failure		404		{object}	Error	"unknown model or version"
//	@Failure		413		{object}	Error	"body too large"
//	@Failure		422		{object}	Error	"the body does not fit the model"
//	@Failure		500		{object}	Error	"ONNX Runtime failed"
//	@Router			/v1/models/{name}/predict [post]
func (s *Server) predict(c *gin.Context) {
	// The body is read before the model version is held: a slow upload
	// never keeps a reload waiting.
	body := getBuf()
	var err error
	if *body, err = readBody(*body, c, s.maxBody); err != nil {
		putBuf(body)
		s.fail(c, err)
		return
	}
	m, release, err := s.repo.Acquire(c.Param("name"), c.Param("version"))
	if err != nil {
		putBuf(body)
		s.fail(c, err)
		return
	}
	defer release()
	inputs, err := DecodePredict(*body, &m.Signature, DecodeOptions{Features: m.Config.Features, MaxBatch: m.Config.MaxBatchSize})
	putBuf(body) // the tensors hold no reference into the body
	if err == nil {
		err = checkBatch(&m.Signature, inputs)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	// Runs after the response is written; Infer has returned by then, so
	// ONNX Runtime no longer reads the buffers.
	defer jsontensor.Release(inputs)
	outs, err := m.Infer(c, inputs)
	if err != nil {
		s.fail(c, err)
		return
	}
	buf := getBuf()
	*buf = appendPredictResponse(*buf, m, outs)
	c.Data(http.StatusOK, "application/json; charset=utf-8", *buf)
	putBuf(buf)
}

// readBody appends the request body to buf, reusing its capacity (sized
// from Content-Length up front, so a large body is not grown by doubling),
// and fails with *http.MaxBytesError past limit.
func readBody(buf []byte, c *gin.Context, limit int64) ([]byte, error) {
	r := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if n := c.Request.ContentLength; n > 0 && n <= limit {
		buf = slices.Grow(buf, int(n)+1) // +1: the read that sees EOF needs room
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// predictVersion godoc
//
//	@Summary	Run one version of a model
//	@Tags		predict
//	@Accept		json
//	@Produce	json
//	@Param		name	path		string			true	"model name"	example(iris)
//	@Param		version	path		string			true	"model version"	example(1)
//	@Param		request	body		PredictRequest	true	"inputs"
//	@Success	200		{object}	PredictResponse
//	@Failure	400		{object}	Error
//	@Failure	404		{object}	Error
//	@Failure	413		{object}	Error
//	@Failure	422		{object}	Error
//	@Failure	500		{object}	Error
//	@Router		/v1/models/{name}/versions/{version}/predict [post]
func _() {}
