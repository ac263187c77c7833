package handlers_test

import (
	"encoding/binary"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// TestSteadyAllocations pins what a steady request allocates in the
// handler, in process (issue 15's zero-allocation paths), each remaining
// allocation named:
//   - /v1, one iris row of named features: the decoded column, and its
//     data boxed into the input tensor (2);
//   - /v2, one iris row of binary FP32: the response and its outputs'
//     slice, the input's view of the body, and the
//     Inference-Header-Content-Length header's value and slice (6; the
//     header length is this test's own).
//
// It also catches a lease never released: each request would then make a
// binding of its own, a dozen allocations more.
func TestSteadyAllocations(t *testing.T) {
	repo := servertest.Open(t, servertest.Path("models"), servertest.Options{})
	h := servertest.Handler(repo, servertest.Options{})
	header := `{"inputs":[{"name":"X","datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]}`
	row := make([]byte, 16)
	for i, v := range []float32{5.1, 3.5, 1.4, 0.2} {
		binary.LittleEndian.PutUint32(row[4*i:], math.Float32bits(v))
	}
	for _, c := range []struct {
		name, path string
		hlen       int // Inference-Header-Content-Length; 0 for none
		body       []byte
		want       float64
	}{
		{"v1 iris named", "/v1/models/iris/predict", 0,
			[]byte(`{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`), 2},
		{"v2 iris binary", "/v2/models/iris/infer", len(header),
			append([]byte(header), row...), 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := newBenchClient("iris")
			client.req = httptest.NewRequest("POST", c.path, client.body)
			if c.hlen > 0 {
				client.req.Header.Set(headerLengthKey, strconv.Itoa(c.hlen))
			}
			client.req.ContentLength = int64(len(c.body)) // as over HTTP
			post := func() {
				if status := client.post(h, c.body); status != http.StatusOK {
					t.Fatalf("status %d", status)
				}
			}
			post() // the binding, and the pools, made
			got := testing.AllocsPerRun(200, post)
			if got != c.want {
				t.Errorf("a steady request allocates %v, want %v", got, c.want)
			}
		})
	}
}
