package v1

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/imagetensor"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// multipartBoundary is the boundary of a multipart/form-data request, ""
// for any other.
func multipartBoundary(contentType string) string {
	if !strings.HasPrefix(contentType, "multipart/") {
		return "" // JSON, without parsing (which allocates)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		return ""
	}
	return params["boundary"]
}

// decodeImages reads a multipart/form-data body: image files (PNG, JPEG)
// in fields named after the model's image inputs (config.yaml
// inputs.NAME.image), each file one row, in the order sent, and an
// optional "outputs" field (names, comma-separated). A file that does not
// decode is a 422 naming it. What a file becomes, the decoded picture and
// its row, is reserved on lease before it is made, and rows past the
// model's max_batch_size are refused as they come: a file of a hundred
// bytes can become megabytes.
func decodeImages(body []byte, boundary string, m *runtime.Model, lease *inference.Lease) (predictBody, error) {
	var req predictBody
	rows := map[string][][]float64{}
	var order []string
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return req, jsontensor.Malformed("malformed multipart/form-data: %v", err)
		}
		field := p.FormName()
		data, err := io.ReadAll(p)
		if err != nil {
			return req, jsontensor.Malformed("malformed multipart/form-data: %v", err)
		}
		if p.FileName() == "" {
			if field != "outputs" {
				return req, jsontensor.Invalid(field, "unknown field; send image files in %s, and optionally outputs", imageInputNames(m))
			}
			for name := range strings.SplitSeq(string(data), ",") {
				if name = strings.TrimSpace(name); name != "" {
					req.outputs = append(req.outputs, name)
				}
			}
			continue
		}
		spec, ok := m.ImageInput(field)
		if !ok {
			return req, jsontensor.Invalid(field, "not an image input; image inputs are %s", imageInputNames(m))
		}
		if n := m.Config.MaxBatchSize; n > 0 && len(rows[field]) == n {
			return req, jsontensor.Invalid(field, "%s: more than max_batch_size (%d) files for this input", p.FileName(), n)
		}
		img, err := imagetensor.Decode(data, lease.Grow)
		if e := (*inference.Error)(nil); errors.As(err, &e) {
			return req, e // the budget's refusal
		}
		if err != nil {
			return req, jsontensor.Invalid(field, "%s: %v", p.FileName(), err)
		}
		if err := lease.Grow(int64(spec.RowLen()) * 8); err != nil {
			return req, err
		}
		row := make([]float64, spec.RowLen())
		imagetensor.Row(row, img, spec)
		if rows[field] == nil {
			order = append(order, field)
		}
		rows[field] = append(rows[field], row)
	}
	if len(order) == 0 {
		return req, jsontensor.Invalid("body", "no image file; send image files in %s", imageInputNames(m))
	}
	req.inputs = make([]tensor.Tensor, len(m.Signature.Inputs))
	for _, name := range order {
		i := m.Signature.Input(name)
		spec, _ := m.ImageInput(name)
		req.inputs[i] = imageTensor(m.Signature.Inputs[i].DType, spec, rows[name])
	}
	return req, nil
}

// imageTensor is rows as a tensor of the input's dtype and layout.
func imageTensor(dt tensor.DType, s imagetensor.Spec, rows [][]float64) tensor.Tensor {
	n := int64(len(rows))
	var shape []int64
	switch s.Layout {
	case imagetensor.NCHW:
		shape = []int64{n, int64(s.Channels.N()), int64(s.H), int64(s.W)}
	case imagetensor.NHWC:
		shape = []int64{n, int64(s.H), int64(s.W), int64(s.Channels.N())}
	default:
		shape = []int64{n, int64(s.RowLen())}
	}
	if dt == tensor.Float64 {
		return tensor.Tensor{DType: dt, Shape: shape, Data: concat[float64](rows)}
	}
	return tensor.Tensor{DType: dt, Shape: shape, Data: concat[float32](rows)}
}

func concat[T float32 | float64](rows [][]float64) []T {
	out := make([]T, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		for _, v := range r {
			out = append(out, T(v))
		}
	}
	return out
}

func imageInputNames(m *runtime.Model) string {
	var names []string
	for _, in := range m.Signature.Inputs {
		if _, ok := m.ImageInput(in.Name); ok {
			names = append(names, in.Name)
		}
	}
	if len(names) == 0 {
		return "none: this model takes JSON"
	}
	return tensor.QuoteNames(names)
}
