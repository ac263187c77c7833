package v2

import (
	"errors"
	"net/http"
	goruntime "runtime"
	"strconv"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/jsontensor"
	"github.com/onnxserve/onnxserve/handlers/rest"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// A small body that declares a huge shape is refused without first
// reserving room for the elements the shape promises.
func TestDecodeHugeShapeSmallData(t *testing.T) {
	m := &runtime.Model{Name: "strings", Config: &runtime.Config{}, Signature: tensor.Signature{
		Inputs: []tensor.TensorSpec{{Name: "text", DType: tensor.String, Shape: []int64{-1}}},
	}}
	// The shape may claim as many elements as the body has bytes; the
	// padding is binary data, outside the JSON the elements are read from.
	// Reserving the shape's 1M BYTES elements up front would take 16 MB.
	const n = 1 << 20
	header := []byte(`{"inputs":[{"name":"text","shape":[` + strconv.Itoa(n) + `],"datatype":"BYTES","data":["a"]}]}`)
	body := append(append([]byte{}, header...), make([]byte, n)...)
	decode := func() error {
		req, err := decodeV2(body, len(header), m)
		if err == nil {
			jsontensor.Release(req.pooled)
		}
		return err
	}
	var e *inference.Error
	if err := decode(); !errors.As(err, &e) || rest.Status(e.Kind) != http.StatusBadRequest {
		t.Fatalf("decodeV2: %v, want a 400", err)
	}
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	decode()
	goruntime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("decoding a %d-byte header allocated %d bytes", len(header), got)
	}
}

// TestHeaderLengthKey pins that the binary extension's header name is in
// the canonical form rest.Header and rest.SetHeader take.
func TestHeaderLengthKey(t *testing.T) {
	if k := http.CanonicalHeaderKey(headerLengthKey); k != headerLengthKey {
		t.Errorf("headerLengthKey %q is not canonical (%q)", headerLengthKey, k)
	}
}
