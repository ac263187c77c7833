package handlers_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// The memory one request makes the server take, measured over real HTTP
// against runtime/testdata/sum.onnx (s = the sum of each row of x, FLOAT
// [batch, n]: an input as large as the body, an answer of one number).
// What is measured is everything the process allocates while the request
// is sent, served and answered (runtime.MemStats.TotalAlloc, which the
// peak of what is live cannot pass), as a multiple of the body's size.
// The client's part is small: its body is made before, and its answer is
// a few hundred bytes.

// sumRepo is a repository of the sum model alone, and the dtypes model,
// whose FP64 input is the widest element a JSON number can become.
func sumRepo(t *testing.T) string {
	dir := t.TempDir()
	servertest.CopyFile(t, servertest.Path("runtime/testdata/sum.onnx"), filepath.Join(dir, "sum", "model.onnx"))
	servertest.CopyFile(t, servertest.Path("runtime/testdata/dtypes.onnx"), filepath.Join(dir, "dtypes", "model.onnx"))
	return dir
}

// allocated is what the process allocated while do ran.
func allocated(do func()) uint64 {
	var before, after goruntime.MemStats
	// Twice: the second empties the sync.Pools' victim caches, so that no
	// buffer of an earlier request is reused and the figure is this one's.
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	do()
	goruntime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// floatsJSON is n float32s as a client's JSON encoder writes them, with
// their sum computed here.
func floatsJSON(n int) ([]byte, float64) {
	b := make([]byte, 0, 10*n)
	sum := 0.0
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		v := float32(i%1000) / 1024
		sum += float64(v)
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	}
	return b, sum
}

// TestRequestMemory pins how much one request allocates, as a multiple
// of its body: a binary tensor is used where it lies in the body (at most
// 1.2×: the body, read as it arrives, and nothing decoded), a JSON tensor
// costs at most the body again (2×), however large the shape it declares,
// and a body over --max-body-bytes sent without a length stops at the
// limit. On the code before (61b4a79): 1.99× (binary), 2.33× (v2 JSON),
// 3.86× (v1 JSON), 5.75× (a shape declared for FP64 data that never
// came) and 3.24× the limit for a chunked 24 MiB body; now 1.02×, 1.40×,
// 1.87×, 1.51× and 2.00× (the doubling up to the limit, and no further).
func TestRequestMemory(t *testing.T) {
	const limit = 16 << 20
	srv, _ := servertest.Start(t, sumRepo(t), servertest.Options{MaxBodyBytes: limit})
	const n = 3 << 20 // 12 MiB of FP32
	bin := make([]byte, 4*n)
	want := 0.0
	for i := range n {
		v := float32(i%7) - 3
		binary.LittleEndian.PutUint32(bin[4*i:], math.Float32bits(v))
		want += float64(v)
	}
	binHeader := fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1,%d],"datatype":"FP32","parameters":{"binary_data_size":%d}}]}`, n, 4*n)
	data, jsonSum := floatsJSON(1 << 20)
	v2JSON := fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1,%d],"datatype":"FP32","data":[%s]}]}`, 1<<20, data)
	v1JSON := fmt.Sprintf(`{"inputs":{"x":[[%s]]}}`, data)
	// A shape of 6M FP64 elements, whose data is a few numbers and then
	// blanks: what is reserved before the data is checked is the point.
	blanks := strings.Repeat(" ", 12<<20)
	hugeShape := `{"inputs":[{"name":"f64","shape":[3000000,2],"datatype":"FP64","data":[1,2,` + blanks + `3]}]}`

	for _, c := range []struct {
		name    string
		path    string
		body    []byte
		hlen    int
		chunked bool
		status  int
		sum     float64 // the answer's one number, when status is 200
		most    float64
		of      int // the size the figure is a multiple of
	}{
		{"v2 binary", "/v2/models/sum/infer", append([]byte(binHeader), bin...), len(binHeader), false, 200, want, 1.2, 0},
		{"v2 JSON", "/v2/models/sum/infer", []byte(v2JSON), -1, false, 200, jsonSum, 2, 0},
		{"v1 JSON", "/v1/models/sum/predict", []byte(v1JSON), -1, false, 200, jsonSum, 2, 0},
		{"v2 JSON, a huge shape and no data", "/v2/models/dtypes/infer", []byte(hugeShape), -1, false, 400, 0, 2, 0},
		{"chunked, over the limit", "/v2/models/sum/infer", append([]byte(binHeader), make([]byte, 24<<20)...), len(binHeader), true, 413, 0, 2.1, limit},
	} {
		t.Run(c.name, func(t *testing.T) {
			var status int
			var answer string
			got := allocated(func() { status, answer = servertest.Post(t, srv.URL+c.path, c.body, c.hlen, c.chunked) })
			if status != c.status {
				t.Fatalf("status %d, want %d: %.300s", status, c.status, answer)
			}
			if c.status == 200 {
				// The one number of the answer: v2's data, v1's outputs.s.
				m := regexp.MustCompile(`("data"|"s"):\[([^\]]+)\]`).FindStringSubmatch(answer)
				got := math.NaN()
				if m != nil {
					got, _ = strconv.ParseFloat(m[2], 64)
				}
				if !(math.Abs(got-c.sum) <= 1e-4*math.Abs(c.sum)) {
					t.Errorf("sum %v, want %v: %.300s", got, c.sum, answer)
				}
			}
			of := c.of
			if of == 0 {
				of = len(c.body)
			}
			ratio := float64(got) / float64(of)
			t.Logf("%s: %d MiB body, %.1f MiB allocated: %.2f×", c.name, len(c.body)>>20, float64(got)/(1<<20), ratio)
			if ratio > c.most {
				t.Errorf("allocated %.2f× the %s (%d bytes), want at most %.1f×", ratio, map[bool]string{true: "limit", false: "body"}[c.of > 0], of, c.most)
			}
		})
	}
}
