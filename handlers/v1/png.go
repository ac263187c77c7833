package v1

import (
	"mime"
	"strconv"
	"strings"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
	"github.com/onnxserve/onnxserve/runtime/tensorimage"
)

// wantsPNG reports whether an Accept header asks for a PNG: image/png is
// the first media range it accepts (q > 0). */* and JSON first, or no
// Accept at all, are JSON.
func wantsPNG(accept string) bool {
	if !strings.Contains(accept, "image/png") {
		return false // the common case, without parsing (which allocates)
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				continue
			}
		}
		return mt == "image/png"
	}
	return false
}

// imageOutput is the output a PNG answer pictures: the one output the
// request names, which must be an image, or the model's only image
// output when it names none.
func imageOutput(m *runtime.Model, asked []string) (int, error) {
	isImage := func(name string) bool {
		o, ok := m.Config.Outputs[name]
		return ok && o.Image != nil
	}
	switch {
	case len(asked) == 1 && isImage(asked[0]):
		return m.Signature.Output(asked[0]), nil
	case len(asked) > 1:
		return -1, inference.Errorf(inference.InvalidArgument, "a PNG answer pictures one output, %d are asked for", len(asked))
	case len(asked) == 1:
		return -1, inference.Errorf(inference.InvalidArgument, "output '%s' of model '%s' is not an image (config.yaml outputs.%s.image)", asked[0], m.Name, asked[0])
	}
	found := -1
	for i, out := range m.Signature.Outputs {
		if isImage(out.Name) {
			if found >= 0 {
				return -1, inference.Errorf(inference.InvalidArgument, "model '%s' has several image outputs: name one with outputs", m.Name)
			}
			found = i
		}
	}
	if found < 0 {
		return -1, inference.Errorf(inference.InvalidArgument, "no output of model '%s' is an image (config.yaml outputs.NAME.image); ask for JSON", m.Name)
	}
	return found, nil
}

// encodePNG is output i's picture for a one-row request.
func encodePNG(m *runtime.Model, i int, t tensor.Tensor) ([]byte, error) {
	spec := m.Signature.Outputs[i]
	layout, err := tensorimage.LayoutOf(spec.Shape)
	if err != nil {
		return nil, inference.Errorf(inference.Internal, "output '%s': %v", spec.Name, err) // checked at load
	}
	rg := m.Config.Outputs[spec.Name].Image.Range
	pngs, err := tensorimage.Encode(t, layout, tensorimage.Range{Lo: rg[0], Hi: rg[1]})
	if err != nil {
		return nil, inference.Errorf(inference.Internal, "output '%s': %v", spec.Name, err)
	}
	if len(pngs) != 1 {
		return nil, inference.Errorf(inference.InvalidArgument, "a PNG answer holds one picture and the request has %d rows; send one, or ask for JSON", len(pngs))
	}
	return pngs[0], nil
}
