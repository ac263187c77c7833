package handlers

import (
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/runtime"
)

// Triton's model repository extension: list the repository, load or
// reload a model, unload one. Load and unload answer once the change is
// done: the new version serves, or the old one is freed.

// v2Index godoc
//
//	@Summary	List every model in the repository with its state, loaded or not
//	@Tags		v2 repository
//	@Accept		json
//	@Produce	json
//	@Param		request	body		V2IndexRequest	false	"ready: list only models ready for inference"
//	@Success	200		{array}		V2IndexEntry
//	@Failure	400		{object}	V2Error
//	@Router		/v2/repository/index [post]
func (s *Server) v2Index(c *gin.Context) {
	readyOnly := false
	err := s.controlBody(c, func(d *jsontensor.Decoder, key string) *Error {
		if key != "ready" {
			return codecError(d.Skip())
		}
		var err *jsontensor.Error
		if readyOnly, err = d.Bool(); err != nil {
			return BadRequest("Invalid value for 'ready': expected a boolean")
		}
		return nil
	})
	if err != nil {
		s.failV2(c, err)
		return
	}
	idx, err := s.repo.Index()
	if err != nil {
		s.failV2(c, err)
		return
	}
	out := []V2IndexEntry{}
	for _, e := range idx {
		if !readyOnly || e.State == runtime.StateReady {
			out = append(out, V2IndexEntry(e))
		}
	}
	c.JSON(http.StatusOK, out)
}

// v2Load godoc
//
//	@Summary		Load a model, or reload it if its files changed
//	@Description	Requests keep running on the old version until the new one is swapped in; the old one is freed after its last request. A load that fails leaves the old version serving and answers 400 with the reason. Only with --model-control=explicit.
//	@Tags			v2 repository
//	@Accept			json
//	@Produce		json
//	@Param			name	path	string				true	"model name"	example(iris)
//	@Param			request	body	V2RepositoryRequest	false	"no parameters are needed"
//	@Success		200
//	@Failure		400	{object}	V2Error	"the load failed: the reason"
//	@Failure		503	{object}	V2Error	"model control is not explicit"
//	@Router			/v2/repository/models/{name}/load [post]
func (s *Server) v2Load(c *gin.Context) {
	s.control(c, func(name string) error { return s.repo.Load(name) }, func(d *jsontensor.Decoder, key string) *Error {
		if key == "config" || strings.HasPrefix(key, "file:") {
			return BadRequest("load parameter '%s' is not supported: a model's files and config.yaml are read from the repository", key)
		}
		return codecError(d.Skip())
	})
}

// v2Unload godoc
//
//	@Summary		Unload a model
//	@Description	The model answers 404 at once; requests already running finish, then it is freed. Only with --model-control=explicit.
//	@Tags			v2 repository
//	@Accept			json
//	@Produce		json
//	@Param			name	path	string				true	"model name"	example(iris)
//	@Param			request	body	V2RepositoryRequest	false	"unload_dependents is accepted; models have no dependents"
//	@Success		200
//	@Failure		404	{object}	V2Error	"no such model"
//	@Failure		503	{object}	V2Error	"model control is not explicit"
//	@Router			/v2/repository/models/{name}/unload [post]
func (s *Server) v2Unload(c *gin.Context) {
	s.control(c, s.repo.Unload, func(d *jsontensor.Decoder, _ string) *Error { return codecError(d.Skip()) })
}

// control runs a load or unload of the model in the URL, after checking
// that the model control mode allows it and reading the body's parameters.
func (s *Server) control(c *gin.Context, change func(name string) error, param func(d *jsontensor.Decoder, key string) *Error) {
	if s.modelControl != runtime.ControlExplicit {
		// Triton's words and status (UNAVAILABLE) in every mode but explicit.
		s.failV2(c, &Error{Kind: KindUnavailable, Message: "explicit model load / unload is not allowed if polling is enabled"})
		return
	}
	err := s.controlBody(c, func(d *jsontensor.Decoder, key string) *Error {
		if key != "parameters" {
			return codecError(d.Skip())
		}
		if d.Next() != '{' {
			return codecError(d.Mismatch("parameters", "an object"))
		}
		return object(d, func(p []byte) *Error { return param(d, string(p)) })
	})
	if err == nil {
		err = change(c.Param("name"))
	}
	if err != nil {
		s.failV2(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// controlBody reads the optional JSON object body of a repository request,
// calling member for each key at its value.
func (s *Server) controlBody(c *gin.Context, member func(d *jsontensor.Decoder, key string) *Error) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.maxBody))
	if err != nil {
		return err
	}
	d := &jsontensor.Decoder{}
	d.Reset(body)
	if d.AtEnd() {
		return nil
	}
	if d.Next() != '{' {
		return codecError(d.Fail("a JSON object"))
	}
	if err := object(d, func(key []byte) *Error { return member(d, string(key)) }); err != nil {
		return err
	}
	if !d.AtEnd() {
		return codecError(d.Fail("end of input after the object"))
	}
	return nil
}
