package v2

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestDecodeTimeout pins the request parameter timeout: microseconds, as
// Triton's, into the core request's Timeout; 0 or absent is none; anything
// but a non-negative integer is a 400 naming it.
func TestDecodeTimeout(t *testing.T) {
	m := &runtime.Model{Name: "m", Config: &runtime.Config{}, Signature: tensor.Signature{
		Inputs: []tensor.TensorSpec{{Name: "x", DType: tensor.Float32, Shape: []int64{-1}}},
	}}
	const input = `"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]`
	for _, tc := range []struct {
		params string // the parameters object; "" for none
		want   time.Duration
		err    string // "" when it must be read
	}{
		{"", 0, ""},
		{`{}`, 0, ""},
		{`{"timeout":200000}`, 200 * time.Millisecond, ""},
		{`{"timeout":1}`, time.Microsecond, ""},
		{`{"timeout":0}`, 0, ""},
		{`{"binary_data_output":false,"timeout":2500000}`, 2500 * time.Millisecond, ""},
		{`{"timeout":18446744073709551615}`, math.MaxInt64, ""}, // beyond a Duration: the longest there is
		{`{"timeout":-1}`, 0, "parameters.timeout: -1 is not a timeout: microseconds, 0 (none) or more"},
		{`{"timeout":1.5}`, 0, "parameters.timeout: expected an integer, got 1.5"},
		{`{"timeout":"200000"}`, 0, "parameters.timeout: expected an integer, got a string"},
		{`{"timeout":null}`, 0, "parameters.timeout: expected an integer"},
		{`{"timeout":18446744073709551616}`, 0, "parameters.timeout: 18446744073709551616 is out of range for uint64"},
	} {
		body := `{` + input + `}`
		if tc.params != "" {
			body = `{"parameters":` + tc.params + `,` + input + `}`
		}
		req, err := decodeV2([]byte(body), len(body), m)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.params, err)
		case tc.err == "" && req.core.Timeout != tc.want:
			t.Errorf("%s: Timeout %v, want %v", tc.params, req.core.Timeout, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error with %q", tc.params, err, tc.err)
		}
	}
}
