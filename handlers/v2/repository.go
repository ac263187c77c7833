package v2

import (
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/handlers/rest"
)

// Triton's model repository extension: list the repository, load or
// reload a model, unload one. Load and unload answer once the change is
// done: the new version serves, or the old one is freed.

// Index godoc
//
//	@Summary	List every model in the repository with its state, loaded or not
//	@Tags		v2 repository
//	@Accept		json
//	@Produce	json
//	@Param		request	body		IndexRequest	false	"ready: list only models ready for inference"
//	@Success	200		{array}		IndexEntry
//	@Failure	400		{object}	Error
//	@Router		/v2/repository/index [post]
func (a *API) Index(c *gin.Context) {
	readyOnly := false
	err := a.controlBody(c, func(d *jsontensor.Decoder, key string) *inference.Error {
		if key != "ready" {
			return rest.CodecError(d.Skip())
		}
		var err *jsontensor.Error
		if readyOnly, err = d.Bool(); err != nil {
			return badRequest("Invalid value for 'ready': expected a boolean")
		}
		return nil
	})
	if err != nil {
		a.fail(c, err)
		return
	}
	idx, err := a.env.Core.Index(readyOnly)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := make([]IndexEntry, len(idx))
	for i, e := range idx {
		out[i] = IndexEntry{Name: e.Name, Version: e.Version, State: e.State, Reason: e.Reason}
	}
	c.JSON(http.StatusOK, out)
}

// Load godoc
//
//	@Summary		Load a model, or reload it if its files changed
//	@Description	Requests keep running on the old version until the new one is swapped in; the old one is freed after its last request. A load that fails leaves the old version serving and answers 400 with the reason. Only with --model-control=explicit.
//	@Tags			v2 repository
//	@Accept			json
//	@Produce		json
//	@Param			name	path	string				true	"model name"	example(iris)
//	@Param			request	body	RepositoryRequest	false	"no parameters are needed"
//	@Success		200
//	@Failure		400	{object}	Error	"the load failed: the reason"
//	@Failure		415	{object}	Error	"a body not of type application/json"
//	@Failure		503	{object}	Error	"model control is not explicit"
//	@Router			/v2/repository/models/{name}/load [post]
func (a *API) Load(c *gin.Context) {
	a.control(c, a.env.Core.Load)
}

// Unload godoc
//
//	@Summary		Unload a model
//	@Description	The model answers 404 at once; requests already running finish, then it is freed. Only with --model-control=explicit.
//	@Tags			v2 repository
//	@Accept			json
//	@Produce		json
//	@Param			name	path	string				true	"model name"	example(iris)
//	@Param			request	body	RepositoryRequest	false	"unload_dependents is accepted; models have no dependents"
//	@Success		200
//	@Failure		404	{object}	Error	"no such model"
//	@Failure		415	{object}	Error	"a body not of type application/json"
//	@Failure		503	{object}	Error	"model control is not explicit"
//	@Router			/v2/repository/models/{name}/unload [post]
func (a *API) Unload(c *gin.Context) {
	a.control(c, func(name string, _ []string) error { return a.env.Core.Unload(name) })
}

// control reads the parameters of a load or unload request, then has the
// core change the model in the URL, which it does only as the model-control
// policy allows; a mode that allows none is refused before the body is read.
func (a *API) control(c *gin.Context, change func(name string, params []string) error) {
	if err := jsonOrNothing(c.Request); err != nil {
		a.fail(c, err)
		return
	}
	if err := a.env.Core.CheckControl(); err != nil {
		a.fail(c, err)
		return
	}
	var params []string
	err := a.controlBody(c, parameterKeys(&params))
	if err == nil {
		err = change(c.Param("name"), params)
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// parameterKeys is the member reader of a load or unload body: it
// appends the keys of its "parameters" object to params, and skips the
// rest.
func parameterKeys(params *[]string) func(d *jsontensor.Decoder, key string) *inference.Error {
	return func(d *jsontensor.Decoder, key string) *inference.Error {
		if key != "parameters" {
			return rest.CodecError(d.Skip())
		}
		if d.Next() != '{' {
			return rest.CodecError(d.Mismatch("parameters", "an object"))
		}
		return object(d, func(p []byte) *inference.Error {
			*params = append(*params, string(p))
			return rest.CodecError(d.Skip())
		})
	}
}

// controlBody reads the optional JSON object body of a repository request,
// calling member for each key at its value.
func (a *API) controlBody(c *gin.Context, member func(d *jsontensor.Decoder, key string) *inference.Error) error {
	lease := a.env.Core.Budget().Lease()
	defer lease.Release()
	buf := a.env.Buffers.ForBody(c, a.env.MaxBodyBytes)
	defer a.env.Buffers.Put(buf)
	body, err := a.env.Buffers.ReadBody(*buf, c, a.env.MaxBodyBytes, &lease)
	*buf = body
	if err != nil {
		return err
	}
	d := &jsontensor.Decoder{}
	d.Reset(body)
	if d.AtEnd() {
		return nil
	}
	if d.Next() != '{' {
		return rest.CodecError(d.Fail("a JSON object"))
	}
	if err := object(d, func(key []byte) *inference.Error { return member(d, string(key)) }); err != nil {
		return err
	}
	if !d.AtEnd() {
		return rest.CodecError(d.Fail("end of input after the object"))
	}
	return nil
}

// jsonOrNothing refuses a body that is not declared JSON, for the requests
// that change the server (load, unload): a page of another site can make a
// browser send a form or text/plain POST without asking the server first
// (a CORS "simple request"), but not one of type application/json, which
// needs a preflight that only --cors-origins answers. A request with no
// type must have no body, and must not come from a page of another site
// (Sec-Fetch-Site, which browsers send and pages cannot set): an empty
// POST is a simple request too.
func jsonOrNothing(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength != 0 {
			return inference.Errorf(inference.UnsupportedMediaType, "a body without a Content-Type: send application/json, or no body")
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			return inference.Errorf(inference.UnsupportedMediaType, "a request from a page of another site without a Content-Type: send application/json")
		}
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return inference.Errorf(inference.UnsupportedMediaType, "Content-Type %q: this request takes application/json, or no body", ct)
	}
	return nil
}
