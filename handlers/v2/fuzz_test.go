package v2

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// The v2 decoders take bytes from the network: whatever they are given,
// they must not panic, and whatever they accept must be a tensor ORT can
// be handed: the Go type its dtype needs and as many elements as its shape.

// fuzzModel has one input of every v2 datatype plus a scalar; decoding
// needs no session.
func fuzzModel() *runtime.Model {
	m := &runtime.Model{Name: "fuzz", Config: &runtime.Config{MaxBatchSize: 16}}
	for _, dt := range fuzzTypes {
		m.Signature.Inputs = append(m.Signature.Inputs, tensor.TensorSpec{Name: dt.V2Name(), DType: dt, Shape: []int64{-1, 2}})
	}
	m.Signature.Inputs = append(m.Signature.Inputs, tensor.TensorSpec{Name: "scalar", DType: tensor.Float32, Shape: []int64{}})
	m.Signature.Outputs = []tensor.TensorSpec{{Name: "y", DType: tensor.Float32, Shape: []int64{-1}}, {Name: "map", DType: tensor.MapSequence, Shape: []int64{-1}}}
	return m
}

var fuzzTypes = []tensor.DType{tensor.Bool, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64,
	tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Float16, tensor.BFloat16,
	tensor.Float32, tensor.Float64, tensor.String}

// checkAccepted fails when an accepted tensor is not what ORT needs.
func checkAccepted(t *testing.T, spec tensor.TensorSpec, ts tensor.Tensor) {
	if err := ts.Check(); err != nil {
		t.Fatalf("accepted %s: %v", spec.Name, err)
	}
	if len(ts.Shape) != len(spec.Shape) {
		t.Fatalf("accepted %s of shape %v for %v", spec.Name, ts.Shape, spec.Shape)
	}
	for k, d := range spec.Shape {
		if d >= 0 && ts.Shape[k] != d {
			t.Fatalf("accepted %s of shape %v for %v", spec.Name, ts.Shape, spec.Shape)
		}
	}
}

// FuzzDecodeV2 feeds whole requests, JSON header and binary data, with the
// Inference-Header-Content-Length header set or not, through the same
// steps as the infer handler: decode, then the core's checks.
func FuzzDecodeV2(f *testing.F) {
	valid := `{"id":"1","parameters":{"binary_data_output":true},"inputs":[` +
		`{"name":"FP32","shape":[1,2],"datatype":"FP32","data":[[1.5,-2]]},` +
		`{"name":"BYTES","shape":[1,2],"datatype":"BYTES","data":["a","\u00e9"]},` +
		`{"name":"scalar","shape":[],"datatype":"FP32","data":[3]},` +
		`{"name":"BOOL","shape":[1,2],"datatype":"BOOL","parameters":{"binary_data_size":2}},` +
		`{"name":"FP16","shape":[1,2],"datatype":"FP16","parameters":{"binary_data_size":4}}],` +
		`"outputs":[{"name":"y","parameters":{"classification":2,"binary_data":false}}]}`
	f.Add([]byte(valid+"\x01\x00\x00\x3c\x00\xc0"), strconv.Itoa(len(valid)))
	f.Add([]byte(valid), "")
	f.Add([]byte(`{"inputs":[{"data":[1,2],"name":"INT8","datatype":"INT8","shape":[2,1]}]}`), "")
	f.Add([]byte("\x01\x00\x00\x00a"), "0")
	f.Add([]byte(`{"inputs":[{"name":"BYTES","shape":[1,2],"datatype":"BYTES","parameters":{"binary_data_size":9}}]}`+"\x01\x00\x00\x00a\x00\x00\x00\x00"), "97")
	m := fuzzModel()
	raw := &runtime.Model{Name: "raw", Config: &runtime.Config{}, Signature: tensor.Signature{Inputs: m.Signature.Inputs[:1], Outputs: m.Signature.Outputs}}
	// Decoders are recycled (decoders): whatever one decoded before, the
	// next request must decode as on a new one. The valid request is
	// decoded after every input, and compared with its first decoding.
	reference := []byte(valid + "\x01\x00\x00\x3c\x00\xc0")
	decodeReference := func(t testing.TB) string {
		req, err := decodeV2(reference, len(valid), m)
		if err != nil {
			t.Fatalf("the valid request: %v", err)
		}
		defer req.release()
		return fmt.Sprintf("%q %v %v %+v %+v %+v", req.id, req.hasID, req.binaryAll, req.requested, req.core.Inputs, req.core.Outputs)
	}
	want := decodeReference(f)
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		defer func() {
			if got := decodeReference(t); got != want {
				t.Fatalf("after %q, a recycled decoder decoded the valid request as\n%s\nnot\n%s", body, got, want)
			}
		}()
		n, err := strconv.Atoi(strings.TrimSpace(header))
		n, err = headerLength(header, n, err, len(body))
		if err != nil {
			return
		}
		model := m
		var req *v2Request
		if n == 0 && header != "" {
			model = raw
			req, err = decodeRawV2(body, raw)
		} else {
			req, err = decodeV2(body, n, m)
		}
		if req != nil {
			defer req.release() // before the deferred check above
		}
		if err == nil {
			// What the core checks before it runs a request.
			err = inference.Check(model, &req.core)
		}
		if err != nil {
			return
		}
		if len(req.core.Inputs) != len(model.Signature.Inputs) {
			t.Fatalf("%d inputs for %d", len(req.core.Inputs), len(model.Signature.Inputs))
		}
		for i, ts := range req.core.Inputs {
			checkAccepted(t, model.Signature.Inputs[i], ts)
		}
		for _, o := range req.core.Outputs {
			if i := model.Signature.Output(o.Name); i < 0 || model.Signature.Outputs[i].DType == tensor.MapSequence || o.Classes < 0 {
				t.Fatalf("accepted output %+v", o)
			}
		}
	})
}
