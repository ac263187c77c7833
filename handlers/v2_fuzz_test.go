package handlers

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"testing"

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
// steps as the infer handler.
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
	f.Fuzz(func(t *testing.T, body []byte, header string) {
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
		if err != nil {
			return
		}
		if len(req.inputs) != len(model.Signature.Inputs) {
			t.Fatalf("%d inputs for %d", len(req.inputs), len(model.Signature.Inputs))
		}
		for i, ts := range req.inputs {
			checkAccepted(t, model.Signature.Inputs[i], ts)
		}
		for _, o := range req.outputs {
			if o.index < 0 || o.index >= len(model.Signature.Outputs) || model.Signature.Outputs[o.index].DType == tensor.MapSequence {
				t.Fatalf("accepted output %+v", o)
			}
		}
	})
}

// FuzzDecodeBinary feeds raw tensor bytes of every datatype and shape.
func FuzzDecodeBinary(f *testing.F) {
	f.Add(uint8(0), uint8(1), uint8(2), []byte{1, 0})
	f.Add(uint8(9), uint8(1), uint8(2), []byte{0, 0x3c, 0, 0xc0})
	f.Add(uint8(13), uint8(1), uint8(2), binary.LittleEndian.AppendUint32([]byte{1, 0, 0, 0, 'x'}, 0))
	f.Add(uint8(11), uint8(0), uint8(4), []byte{})
	f.Fuzz(func(t *testing.T, kind, d0, d1 uint8, raw []byte) {
		dt := fuzzTypes[int(kind)%len(fuzzTypes)]
		shape := []int64{int64(d0 % 16), int64(d1 % 16)}
		ts, err := decodeBinary(dt, shape, raw)
		if err != nil {
			return
		}
		checkAccepted(t, tensor.TensorSpec{Name: dt.V2Name(), DType: dt, Shape: shape}, ts)
		// What was accepted goes back out as the same bytes.
		back, err := appendBinary(nil, ts)
		if err != nil || !sameBinary(dt, back, raw) {
			t.Fatalf("%s round trip: %v %x → %x", dt.V2Name(), err, raw, back)
		}
	})
}

// sameBinary compares raw tensor bytes; FP16 and BF16 go through float32,
// so a NaN may come back with another payload, but as a NaN.
func sameBinary(dt tensor.DType, got, want []byte) bool {
	var exp, frac uint16
	switch dt {
	case tensor.Float16:
		exp, frac = 0x7c00, 0x03ff
	case tensor.BFloat16:
		exp, frac = 0x7f80, 0x007f
	default:
		return slices.Equal(got, want)
	}
	if len(got) != len(want) || len(got)%2 != 0 {
		return false
	}
	nan := func(h uint16) bool { return h&exp == exp && h&frac != 0 }
	for i := 0; i < len(got); i += 2 {
		g, w := binary.LittleEndian.Uint16(got[i:]), binary.LittleEndian.Uint16(want[i:])
		if g != w && !(nan(g) && nan(w)) {
			return false
		}
	}
	return true
}
