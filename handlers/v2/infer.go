package v2

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/rest"
)

// headerLengthKey is the binary tensor extension's header: the length of
// the JSON at the start of a body that binary tensor data follows.
const headerLengthKey = "Inference-Header-Content-Length"

// Infer godoc
//
//	@Summary		Run a model (Open Inference Protocol)
//	@Description	JSON: `{"inputs": [{"name", "shape", "datatype", "data"}], "outputs": [{"name", "parameters"}]}` with data flat or nested, datatypes BOOL, UINT8–UINT64, INT8–INT64, FP16, BF16, FP32, FP64, BYTES.
//	@Description	Binary tensor extension: an input with `parameters.binary_data_size` instead of `data` has its little-endian bytes after the JSON (BYTES as 4-byte length-prefixed strings), and the `Inference-Header-Content-Length` header gives the JSON's length; an output with `parameters.binary_data: true`, or every output with the request parameter `binary_data_output: true`, comes back the same way. `Inference-Header-Content-Length: 0` sends the only input's raw bytes alone.
//	@Description	Classification extension: an output with `parameters.classification: k` returns the top k classes per row as BYTES `"score:index[:label]"`, labels from config.yaml.
//	@Tags			v2
//	@Accept			json
//	@Accept			octet-stream
//	@Produce		json
//	@Produce		octet-stream
//	@Param			name							path		string			true	"model name"	example(iris)
//	@Param			Inference-Header-Content-Length	header		int				false	"length of the JSON header when binary tensor data follows it"
//	@Param			request							body		InferRequest	true	"inputs and requested outputs"
//	@Success		200								{object}	InferResponse
//	@Failure		400								{object}	Error	"malformed request, or one that does not fit the model: datatype, shape, data size, unknown or missing input or output"
//	@Failure		404								{object}	Error	"unknown or unloaded model or version"
//	@Failure		413								{object}	Error	"body too large"
//	@Failure		500								{object}	Error	"ONNX Runtime failed"
//	@Failure		503								{object}	Error	"the model failed to load, or the server is overloaded"
//	@Failure		504								{object}	Error	"the request's deadline (--request-timeout, the model's request_timeout, parameters.timeout) passed: dropped unrun, or its run stopped"
//	@Router			/v2/models/{name}/infer [post]
func (a *API) Infer(c *gin.Context) {
	// Found before the body is read, held only after (answer).
	if err := a.env.Core.Find(c.Param("name"), c.Param("version")); err != nil {
		a.fail(c, err)
		return
	}
	// What the request holds, its body and then its tensors, is reserved
	// from the server's budget until it is answered.
	lease := a.env.Core.Budget().Lease()
	defer lease.Release()
	bufs := a.env.Buffers
	buf := bufs.ForBody(c, a.env.MaxBodyBytes)
	// Put back only once the response is written: binary inputs use the
	// body's bytes in place.
	defer bufs.Put(buf)
	value := rest.Header(c, headerLengthKey) // parsed once, here
	hlen, perr := strconv.Atoi(strings.TrimSpace(value))
	if perr != nil {
		hlen = -1
	}
	body, err := a.readBody(buf, c, hlen, &lease)
	if err != nil {
		a.fail(c, err)
		return
	}
	header, err := headerLength(value, hlen, perr, len(body))
	if err != nil {
		a.fail(c, err)
		return
	}
	var head, bin *[]byte // from bufs once the outputs' sizes are known
	defer func() {
		for _, b := range [...]*[]byte{head, bin} {
			if b != nil {
				bufs.Put(b)
			}
		}
	}()
	binary, err := a.answer(c, body, header, header == 0 && value != "", &head, &bin, &lease)
	if err != nil {
		a.fail(c, err)
		return
	}
	if !binary {
		rest.WriteJSON(c, http.StatusOK, "application/json", *head)
		return
	}
	rest.SetHeader(c, headerLengthKey, strconv.Itoa(len(*head)))
	rest.Write(c, http.StatusOK, "application/octet-stream", *head, *bin)
}

// answer runs the request in body on the model the URL names and writes
// the response to buffers it sets head and bin to; binary says whether
// bin is part of it.
// The JSON header is body[:header]; raw says the body is only the one
// input's bytes (Inference-Header-Content-Length: 0).
// The model version is held only while the request is decoded, run and
// encoded: a slow upload or download never keeps a reload waiting.
func (a *API) answer(c *gin.Context, body []byte, header int, raw bool, head, bin **[]byte, lease *inference.Lease) (binary bool, err error) {
	core := a.env.Core
	m, release, err := core.Acquire(c.Param("name"), c.Param("version"))
	if err != nil {
		return false, err
	}
	defer release()
	var req *v2Request
	if raw {
		req, err = decodeRawV2(body, m)
	} else {
		req, err = decodeV2(body, header, m)
	}
	if err != nil {
		return false, core.Refuse(c, m, err)
	}
	defer req.release() // Infer has returned, and the answer is encoded, by then
	// Binary inputs lie in the body, reserved already; JSON ones, strings
	// and half floats are new.
	if err := lease.Grow(inference.CopiedBytes(req.core.Inputs, body)); err != nil {
		return false, err
	}
	if rec := inference.RecordOf(c); rec != nil && req.hasID {
		rec.ID = req.id
	}
	req.core.Lease = &req.outputs // released with req, once the answer is encoded
	resp, err := core.Infer(c, m, &req.core)
	if err != nil {
		return false, err
	}
	h, b := answerSizes(req, resp)
	*head, *bin = a.env.Buffers.Get(h), a.env.Buffers.Get(b)
	**head, **bin, binary, err = appendResponse(**head, **bin, req, resp)
	return binary, err
}

// v2InferVersion godoc
//
//	@Summary	Run one version of a model (Open Inference Protocol)
//	@Tags		v2
//	@Accept		json
//	@Produce	json
//	@Param		name	path		string			true	"model name"	example(iris)
//	@Param		version	path		string			true	"model version"	example(1)
//	@Param		request	body		InferRequest	true	"inputs and requested outputs"
//	@Success	200		{object}	InferResponse
//	@Failure	400		{object}	Error
//	@Failure	404		{object}	Error
//	@Failure	413		{object}	Error
//	@Failure	500		{object}	Error
//	@Failure	503		{object}	Error
//	@Failure	504		{object}	Error
//	@Router		/v2/models/{name}/versions/{version}/infer [post]
func _() {}

// tensorAlign is where readBody puts the binary data that follows the
// JSON header: at a multiple of 64 bytes, so that inference.DecodeRaw can use
// the first input's bytes in place for any element type. rest.Buffers.ReadBody
// leaves as much room after a body, so that aligning it moves it in place.
const tensorAlign = rest.Slack

// readBody reads the request body into *buf, reusing its capacity, and
// leaves *buf holding it, for the pool to take back. The body starts a few
// bytes into *buf, so that the binary data after a JSON header of hlen
// bytes (Inference-Header-Content-Length; -1 if none) starts aligned: the
// padding is chosen for the buffer as it is, and the body moved once if
// the buffer had to grow while it arrived. It fails with a
// ResourceExhausted error past the server's limit, and reserves the body
// from lease first (rest.Buffers.ReadBody).
func (a *API) readBody(buf *[]byte, c *gin.Context, hlen int, lease *inference.Lease) ([]byte, error) {
	b := (*buf)[:0]
	pad := 0
	if hlen >= 0 {
		b = slices.Grow(b, tensorAlign)
		pad = padding(b, hlen)
	}
	b, err := a.env.Buffers.ReadBody(b[:pad], c, a.env.MaxBodyBytes, lease)
	*buf = b
	if err != nil || hlen < 0 || padding(b, hlen) == pad {
		return b[pad:], err
	}
	n := len(b) - pad
	b = slices.Grow(b, tensorAlign) // keeps b[:pad+n]; may move it
	to := padding(b, hlen)
	b = b[:to+n]
	copy(b[to:], b[pad:pad+n]) // both ends lie within cap: overlapping is fine
	*buf = b
	return b[to:], nil
}

// padding is how far into b a body must start for the bytes after its
// first hlen to start at a multiple of tensorAlign.
func padding(b []byte, hlen int) int {
	at := uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(hlen)
	return int(-at % tensorAlign)
}

// headerLength is where the JSON header of a body of size bytes ends:
// the Inference-Header-Content-Length header value when given, else the
// end. n and err are what strconv.Atoi made of the trimmed value.
func headerLength(value string, n int, err error, size int) (int, error) {
	if value == "" {
		return size, nil
	}
	if err != nil {
		return 0, badRequest("Unable to parse %s, got: %s", headerLengthKey, value)
	}
	if n < 0 || n > size {
		return 0, badRequest("inference header size should be in range (0, %d), got: %d", size, n)
	}
	return n, nil
}
