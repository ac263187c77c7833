package v1

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/handlers/rest"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// API is the /v1 front end: models by name with their features and labels,
// FastAPI-style 422s naming each field at fault.
type API struct{ env *rest.Env }

// New returns the /v1 front end over env.
func New(env *rest.Env) *API { return &API{env: env} }

// ListModels godoc
//
//	@Summary	List the models in the repository, loaded or not
//	@Tags		models
//	@Produce	json
//	@Success	200	{object}	ModelList
//	@Router		/v1/models [get]
func (a *API) ListModels(c *gin.Context) {
	list := ModelList{Models: []ModelSummary{}}
	for _, st := range a.env.Core.Models() {
		sum := ModelSummary{Name: st.Name, State: runtime.StateReady, Versions: []string{}}
		if st.Err != nil {
			sum.State, sum.Reason = runtime.StateUnavailable, st.Err.Error()
		}
		for _, m := range st.Versions {
			sum.Versions = append(sum.Versions, m.Version)
			sum.Description = m.Config.Description
		}
		list.Models = append(list.Models, sum)
	}
	c.JSON(http.StatusOK, list)
}

// GetModel godoc
//
//	@Summary	Describe a model: inputs, outputs, features, labels, metadata
//	@Tags		models
//	@Produce	json
//	@Param		name	path		string	true	"model name"	example(iris)
//	@Success	200		{object}	ModelInfo
//	@Failure	404		{object}	Error
//	@Router		/v1/models/{name} [get]
func (a *API) GetModel(c *gin.Context) {
	m, release, err := a.env.Core.Acquire(c.Param("name"), c.Param("version"))
	if err != nil {
		a.fail(c, err, formInputs)
		return
	}
	defer release()
	c.JSON(http.StatusOK, a.modelInfo(m))
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

func (a *API) modelInfo(m *runtime.Model) ModelInfo {
	info := ModelInfo{
		Name: m.Name, Version: m.Version, Description: m.Config.Description,
		Inputs: tensorInfos(m.Signature.Inputs), Outputs: tensorInfos(m.Signature.Outputs),
		Features: m.Config.Features, Labels: m.Config.Labels, MaxBatchSize: m.Config.MaxBatchSize,
		IntraOpThreads: max(m.Config.IntraOpThreads, 1), ExecutionProvider: string(m.ExecutionProvider),
		Metadata: ModelMetadata{Producer: m.Metadata.Producer, GraphName: m.Metadata.GraphName, Domain: m.Metadata.Domain,
			Description: m.Metadata.Description, Version: m.Metadata.Version, Custom: m.Metadata.Custom},
		Versions: a.env.Core.Versions(m.Name),
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

// Predict godoc
//
//	@Summary		Run a model (any model; see the per-model paths for typed schemas)
//	@Description	Send one of: the named features as top-level fields (models with `features`), `{"instances": [...]}` with rows or named-feature objects, or `{"inputs": {"NAME": nested arrays}}`.
//	@Tags			predict
//	@Accept			json
//	@Produce		json
//	@Param			name	path		string			true	"model name"	example(iris)
//	@Param			request	body		PredictRequest	true	"inputs"
//	@Param			outputs	query		[]string		false	"the outputs to return, in this order (default: every one); or outputs in the body"	collectionFormat(csv)
//	@Success		200		{object}	PredictResponse
//	@Failure		400		{object}	Error	"malformed JSON"
//	@Failure		404		{object}	Error	"unknown model or version"
//	@Failure		413		{object}	Error	"body too large"
//	@Failure		422		{object}	Error	"the body does not fit the model"
//	@Failure		500		{object}	Error	"ONNX Runtime failed"
//	@Failure		503		{object}	Error	"the model failed to load, or its queue (max_queue_size) is full"
//	@Failure		504		{object}	Error	"the request's deadline (--request-timeout, the model's request_timeout) passed: dropped unrun, or its run stopped"
//	@Router			/v1/models/{name}/predict [post]
func (a *API) Predict(c *gin.Context) {
	// The model is found before the body is read, and held only after: a
	// request for an unknown model costs nothing, and a slow upload never
	// keeps a reload waiting.
	env := a.env
	if err := env.Core.Find(c.Param("name"), c.Param("version")); err != nil {
		a.fail(c, err, formInputs)
		return
	}
	// What the request holds, its body and then its tensors, is reserved
	// from the server's budget until it is answered.
	lease := env.Core.Budget().Lease()
	defer lease.Release()
	body := env.Buffers.ForBody(c, env.MaxBodyBytes)
	var err error
	if *body, err = env.Buffers.ReadBody(*body, c, env.MaxBodyBytes, &lease); err != nil {
		env.Buffers.Put(body)
		a.fail(c, err, formInputs)
		return
	}
	m, release, err := env.Core.Acquire(c.Param("name"), c.Param("version"))
	if err != nil {
		env.Buffers.Put(body)
		a.fail(c, err, formInputs)
		return
	}
	defer release()
	var req predictBody
	var f form
	if boundary := multipartBoundary(rest.Header(c, "Content-Type")); boundary != "" {
		req, err = decodeImages(*body, boundary, m, &lease)
		f = formInputs
	} else {
		req, f, err = decodePredict(*body, m)
	}
	env.Buffers.Put(body) // the tensors hold no reference into the body
	if err == nil {
		err = queryOutputs(c, &req)
	}
	// Runs after the response is written; Infer has returned by then, so
	// ONNX Runtime no longer reads the buffers.
	defer req.release()
	if err != nil {
		e, _ := problem(err, f) // the kind the codec's error has
		env.Core.Refuse(c, m, e)
		a.fail(c, err, f)
		return
	}
	if err := lease.Grow(inference.TensorBytes(req.inputs)); err != nil {
		a.fail(c, err, f)
		return
	}
	if wantsPNG(rest.Header(c, "Accept")) {
		a.predictPNG(c, m, req, f)
		return
	}
	// The outputs may be the model's own memory until the answer is
	// encoded: released then, and on any other way out before the request
	// and the model are (deferred above), not held while a slow client
	// reads the answer.
	held := req.lease()
	defer held.Release()
	var outs []tensor.Tensor
	var which []int // Signature.Outputs index of each of outs; nil: all, in order
	if len(req.outputs) == 0 {
		outs, err = env.Core.InferAll(c, m, &inference.Request{Inputs: req.inputs, Lease: held})
	} else {
		outs, which, err = a.inferSelected(c, m, req, held)
	}
	if err != nil {
		a.fail(c, err, f)
		return
	}
	buf := env.Buffers.Get(answerSize(outs))
	*buf = appendPredictResponse(*buf, m, outs, which)
	held.Release()
	rest.WriteJSON(c, http.StatusOK, "application/json; charset=utf-8", *buf)
	env.Buffers.Put(buf)
}

// predictPNG answers a request that accepts image/png with the picture
// of its image output.
func (a *API) predictPNG(c *gin.Context, m *runtime.Model, req predictBody, f form) {
	i, err := imageOutput(m, req.outputs)
	if err != nil {
		a.fail(c, err, f)
		return
	}
	req.outputs = []string{m.Signature.Outputs[i].Name}
	held := req.lease()
	defer held.Release()
	outs, _, err := a.inferSelected(c, m, req, held)
	var png []byte
	if err == nil {
		png, err = encodePNG(m, i, outs[0])
	}
	held.Release()
	if err != nil {
		a.fail(c, err, f)
		return
	}
	c.Header("Vary", "Accept")
	c.Data(http.StatusOK, "image/png", png)
}

// queryOutputs takes the outputs asked for in the query (?outputs=a,b or
// ?outputs=a&outputs=b) when the body names none; both at once is a 422,
// as the two could disagree.
func queryOutputs(c *gin.Context, req *predictBody) error {
	if c.Request.URL.RawQuery == "" {
		return nil // no query to parse (which allocates)
	}
	q := c.QueryArray("outputs")
	if len(q) == 0 {
		return nil
	}
	if len(req.outputs) > 0 {
		return jsontensor.Invalid("outputs", "given both in the body and in the query; send one")
	}
	for _, v := range q {
		req.outputs = append(req.outputs, strings.Split(v, ",")...)
	}
	return nil
}

// inferSelected runs req for the outputs it names, through the core's
// output selection (the one that /v2 uses), and returns them in the
// order asked, each with its Signature.Outputs index; they may be held by
// held until it is released.
func (a *API) inferSelected(c *gin.Context, m *runtime.Model, req predictBody, held *runtime.Lease) ([]tensor.Tensor, []int, error) {
	asked := make([]inference.RequestedOutput, len(req.outputs))
	for i, name := range req.outputs {
		asked[i] = inference.RequestedOutput{Name: name}
	}
	resp, err := a.env.Core.Infer(c, m, &inference.Request{Inputs: req.inputs, Outputs: asked, Maps: true, Lease: held})
	if err != nil {
		return nil, nil, err
	}
	outs := make([]tensor.Tensor, len(resp.Outputs))
	which := make([]int, len(resp.Outputs))
	for i, o := range resp.Outputs {
		outs[i], which[i] = o.Tensor, m.Signature.Output(o.Name)
	}
	return outs, which, nil
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
//	@Param		outputs	query		[]string		false	"the outputs to return"	collectionFormat(csv)
//	@Success	200		{object}	PredictResponse
//	@Failure	400		{object}	Error
//	@Failure	404		{object}	Error
//	@Failure	413		{object}	Error
//	@Failure	422		{object}	Error
//	@Failure	500		{object}	Error
//	@Failure	503		{object}	Error
//	@Failure	504		{object}	Error
//	@Router		/v1/models/{name}/versions/{version}/predict [post]
func _() {}
