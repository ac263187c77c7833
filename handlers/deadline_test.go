package handlers_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// Deadlines over real HTTP, with the slow test model (runtime/testdata/
// slow.onnx: 256 chained MatMuls by the identity, so y = x exactly), whose
// run of slowRows rows takes seconds and of one row no time. Every "soon"
// is against a whole run measured on this machine now, never a fixed time.

const (
	slowRows      = 8192
	slowBodyBytes = 16 << 20 // a body of slowRows rows, as JSON zeros or binary, fits
)

// slowRepo is a repository of the slow model three times: "slow" as it is,
// "timed" with a request_timeout of 200ms, and "batched" with dynamic
// batching that waits up to a second for slowRows rows to merge.
func slowRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, config := range map[string]string{
		"slow":    "",
		"timed":   "request_timeout: 200ms\n",
		"batched": fmt.Sprintf("max_batch_size: %d\ndynamic_batching: {max_queue_delay_us: 1000000}\n", slowRows),
	} {
		servertest.CopyFile(t, servertest.Path("runtime/testdata/slow.onnx"), filepath.Join(dir, name, "model.onnx"))
		if config != "" {
			servertest.WriteFile(t, filepath.Join(dir, name, "config.yaml"), config)
		}
	}
	return dir
}

// slowInput is rows of x, each element a small integer (exact in float32)
// that tells rows and requests apart.
func slowInput(rows, seed int) []float32 {
	x := make([]float32, rows*256)
	for i := range x {
		x[i] = float32((seed*7919 + i) % 65536)
	}
	return x
}

// v2Slow is a v2 request for the rows x as binary tensor data, with the
// request parameters params added ("" for none) and y asked for as binary.
func v2Slow(x []float32, params string) (header, bin []byte) {
	bin = make([]byte, 0, 4*len(x))
	for _, v := range x {
		bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
	}
	if params != "" {
		params = "," + params
	}
	header = fmt.Appendf(nil, `{"parameters":{"binary_data_output":true%s},"inputs":[{"name":"x","datatype":"FP32","shape":[%d,256],"parameters":{"binary_data_size":%d}}]}`,
		params, len(x)/256, len(bin))
	return header, bin
}

// answer is what one request got, and how long it took.
type answer struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	err    error
}

// post sends header and bin (JSON alone when bin is nil) and reads the
// answer; it reports failures in answer.err, so that goroutines may call it.
func post(ctx context.Context, url string, header, bin []byte) answer {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(append(append([]byte{}, header...), bin...)))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if bin != nil {
		req.Header.Set(headerLengthKey, strconv.Itoa(len(header)))
	}
	begin := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(begin)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: body, took: time.Since(begin), err: err}
}

// sameRows fails unless a is a 200 whose binary y is x, element for
// element.
func (a answer) sameRows(x []float32) error {
	if a.err != nil || a.status != http.StatusOK {
		return fmt.Errorf("%d %v: %.200s", a.status, a.err, a.body)
	}
	n, err := strconv.Atoi(a.header.Get(headerLengthKey))
	if err != nil || n > len(a.body) {
		return fmt.Errorf("header length %q for a body of %d bytes", a.header.Get(headerLengthKey), len(a.body))
	}
	var doc struct {
		Outputs []struct {
			Name       string
			Shape      []int64
			Parameters struct {
				BinaryDataSize int `json:"binary_data_size"`
			}
		}
	}
	if err := json.Unmarshal(a.body[:n], &doc); err != nil || len(doc.Outputs) != 1 || doc.Outputs[0].Parameters.BinaryDataSize != 4*len(x) {
		return fmt.Errorf("response header %s (%v), want y of %d bytes", a.body[:n], err, 4*len(x))
	}
	raw := a.body[n:]
	for i := range x {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != x[i] {
			return fmt.Errorf("y[%d] = %v, want x[%d] = %v", i, got, i, x[i])
		}
	}
	return nil
}

// failed fails unless a is the JSON error status with a message holding msg.
func (a answer) failed(status int, msg string) error {
	var e struct{ Error string }
	switch {
	case a.err != nil:
		return a.err
	case a.status != status || json.Unmarshal(a.body, &e) != nil || !strings.Contains(e.Error, msg):
		body := a.body
		if n, err := strconv.Atoi(a.header.Get(headerLengthKey)); err == nil && n <= len(body) {
			body = body[:n] // not the binary outputs
		}
		return fmt.Errorf("%d %.300s, want %d with an error naming %q", a.status, body, status, msg)
	}
	return nil
}

// slowServer serves slowRepo behind one run slot, so that a run that goes
// on holds up the next request, with metrics: what its logs and metrics
// see, which a client that went away does not, is read from /metrics.
type slowServer struct {
	url  string
	repo *runtime.Repository
}

func serveSlow(t *testing.T, opt servertest.Options) *slowServer {
	t.Helper()
	opt.Limiter, opt.MaxBodyBytes, opt.Metrics = runtime.NewLimiter(1), slowBodyBytes, metrics.New(metrics.Options{})
	srv, repo := servertest.Start(t, slowRepo(t), opt)
	return &slowServer{srv.URL, repo}
}

// metric is the value of one sample on /metrics (a histogram's count).
func (s *slowServer) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	return sample(scrape(t, s.url), name, labels)
}

// rowsRun is the sum of model's onnxserve_batch_size histogram: the rows
// of all its runs.
func (s *slowServer) rowsRun(t *testing.T, model string) float64 {
	t.Helper()
	for _, m := range scrape(t, s.url)["onnxserve_batch_size"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "model" && l.GetValue() == model {
				return m.GetHistogram().GetSampleSum()
			}
		}
	}
	return 0
}

// wholeRun is how long a whole run of slowRows rows takes now, request
// and answer included.
func (s *slowServer) wholeRun(t *testing.T) time.Duration {
	t.Helper()
	header, bin := v2Slow(make([]float32, slowRows*256), "")
	a := post(t.Context(), s.url+"/v2/models/slow/infer", header, bin)
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("a whole run: %d %v %.200s", a.status, a.err, a.body)
	}
	return a.took
}

// freed fails the test unless the run slot is free well before a whole
// run could have ended (a request of one row answers), and the server is
// still ready.
func (s *slowServer) freed(t *testing.T, whole time.Duration, what string) {
	t.Helper()
	x := slowInput(1, 5)
	header, bin := v2Slow(x, "")
	a := post(t.Context(), s.url+"/v2/models/slow/infer", header, bin)
	if err := a.sameRows(x); err != nil {
		t.Fatalf("after %s, a one-row request: %v", what, err)
	}
	if a.took > whole/3 {
		t.Errorf("after %s, a one-row request took %v, and a whole run takes %v: the run went on", what, a.took, whole)
	}
	if res := do(t, "GET", s.url+"/v2/health/ready", ""); res.Status != http.StatusOK {
		t.Errorf("after %s: ready %d", what, res.Status)
	}
}

// v1Zeros is a /v1 body of rows of zeros for the slow model.
func v1Zeros(rows int) []byte {
	row := "[" + strings.Repeat("0,", 255) + "0]"
	return []byte(`{"inputs":{"x":[` + strings.Repeat(row+",", rows-1) + row + `]}}`)
}

// TestDeadlines pins each bound a server sets on a request that runs for
// seconds: the server's --request-timeout (inference.Options.Timeout), the
// model's request_timeout, and the v2 request parameter timeout (µs), on
// /v2 and /v1, the shortest winning. At 200 ms the run is stopped (ORT's
// terminate, between two MatMuls) and the answer is a 504 whose error
// names the bound, long before a whole run could have ended; the run slot
// is free right after, and the server keeps serving. A client that goes
// away is stopped alike.
func TestDeadlines(t *testing.T) {
	plain := serveSlow(t, servertest.Options{})
	limited := serveSlow(t, servertest.Options{Timeout: 200 * time.Millisecond})
	whole := plain.wholeRun(t)
	x := make([]float32, slowRows*256)
	v2 := func(params string) [2][]byte {
		header, bin := v2Slow(x, params)
		return [2][]byte{header, bin}
	}
	for _, tc := range []struct {
		name  string
		s     *slowServer
		path  string
		body  [2][]byte // header and binary data; JSON alone when the second is nil
		cause string
	}{
		{"the server's timeout", limited, "/v2/models/slow/infer", v2(""), "the server's request timeout (200ms) passed"},
		{"the model's request_timeout", plain, "/v2/models/timed/infer", v2(""), "the model's request_timeout (200ms) passed"},
		{"the v2 parameter timeout", plain, "/v2/models/slow/infer", v2(`"timeout":200000`), "the request's timeout parameter (200ms) passed"},
		{"the shortest: the parameter under the model's", plain, "/v2/models/timed/infer", v2(`"timeout":150000`), "the request's timeout parameter (150ms) passed"},
		{"the shortest: the model's under the parameter", plain, "/v2/models/timed/infer", v2(`"timeout":60000000`), "the model's request_timeout (200ms) passed"},
		{"/v1 under the server's timeout", limited, "/v1/models/slow/predict", [2][]byte{v1Zeros(slowRows), nil}, "the server's request timeout (200ms) passed"},
		{"/v1 under the model's request_timeout", plain, "/v1/models/timed/predict", [2][]byte{v1Zeros(slowRows), nil}, "the model's request_timeout (200ms) passed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t.Context(), tc.s.url+tc.path, tc.body[0], tc.body[1])
			if err := a.failed(http.StatusGatewayTimeout, "request deadline exceeded before the model answered: "+tc.cause); err != nil {
				t.Error(err)
			}
			if a.took > whole/2 {
				t.Errorf("answered after %v, and a whole run takes %v: the run was not stopped at its deadline", a.took, whole)
			}
			tc.s.freed(t, whole, tc.name)
		})
	}
	// A client that goes away mid-run stops it as a deadline does; the
	// server answers 499 (nginx's client closed request), which only its
	// logs and metrics see: the HTTP count is made once the handler has
	// returned, after the stopped run.
	t.Run("the client goes away", func(t *testing.T) {
		gone := map[string]string{"route": "/v2/models/:name/infer", "code": "499"}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		header, bin := v2Slow(x, "")
		if a := post(ctx, plain.url+"/v2/models/slow/infer", header, bin); a.err == nil {
			t.Fatalf("the client went away, yet got %d", a.status)
		}
		for try := 0; plain.metric(t, "onnxserve_http_requests_total", gone) != 1; try++ {
			if try == 300 { // 30 s
				t.Fatalf("no request answered 499 on /metrics")
			}
			time.Sleep(100 * time.Millisecond)
		}
		plain.freed(t, whole, "the client went away")
	})
}

// TestDeadlinesMerged pins deadlines in a merged run (dynamic batching):
// two requests of half the rows each, merged into one run of slowRows. A
// member whose deadline passes is answered 504 at once, while the other
// gets its own rows, exactly (y = x), from the run that went on; when
// every member's deadline has passed, the run is stopped and the slot is
// free right after. The first request is queued before the second is
// sent: the batcher waits up to a second for slowRows rows, so the second
// completes the batch, which runs at once. The metrics count one run of
// slowRows rows, and each 504 as a failure CANCELED, as Triton's.
func TestDeadlinesMerged(t *testing.T) {
	s := serveSlow(t, servertest.Options{})
	whole := s.wholeRun(t)
	m, release, err := s.repo.Acquire("batched", "")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	url := s.url + "/v2/models/batched/infer"
	for _, tc := range []struct {
		name          string
		first, second string // request parameters
		// the answers: 200 with the request's rows, or 504 naming the cause
		firstStatus, secondStatus int
		firstCause, secondCause   string
	}{
		{"the second's deadline passes", "", `"timeout":200000`, 200, 504, "", "the request's timeout parameter (200ms) passed"},
		{"both deadlines pass", `"timeout":400000`, `"timeout":200000`, 504, 504, "the request's timeout parameter (400ms) passed", "the request's timeout parameter (200ms) passed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batched := map[string]string{"model": "batched"}
			canceled := map[string]string{"model": "batched", "reason": "CANCELED"}
			runs, rows := s.metric(t, "nv_inference_exec_count", batched), s.rowsRun(t, "batched")
			failures := s.metric(t, "nv_inference_request_failure", canceled)
			x1, x2 := slowInput(slowRows/2, 1), slowInput(slowRows/2, 2)
			first := make(chan answer, 1)
			go func() {
				header, bin := v2Slow(x1, tc.first)
				first <- post(t.Context(), url, header, bin)
			}()
			for try := 0; m.Pending() < 1; try++ {
				if try == 10000 {
					t.Fatal("the first request was never queued")
				}
				time.Sleep(time.Millisecond)
			}
			header, bin := v2Slow(x2, tc.second)
			second := post(t.Context(), url, header, bin)
			for _, c := range []struct {
				name   string
				a      answer
				status int
				cause  string
				x      []float32
			}{{"second", second, tc.secondStatus, tc.secondCause, x2}, {"first", <-first, tc.firstStatus, tc.firstCause, x1}} {
				switch {
				case c.status == http.StatusOK:
					if err := c.a.sameRows(c.x); err != nil {
						t.Errorf("%s: %v", c.name, err)
					}
				case c.a.failed(c.status, c.cause) != nil:
					t.Errorf("%s: %v", c.name, c.a.failed(c.status, c.cause))
				case c.a.took > whole/2:
					t.Errorf("%s: answered after %v, and a whole run takes %v: it waited for the run", c.name, c.a.took, whole)
				}
			}
			s.freed(t, whole, tc.name)
			// The run is counted once it has returned, before its slot is
			// free, which the request freed sent has had.
			if got := s.metric(t, "nv_inference_exec_count", batched) - runs; got != 1 {
				t.Errorf("%v runs, want both requests in one", got)
			}
			if got := s.rowsRun(t, "batched") - rows; got != slowRows {
				t.Errorf("runs of %v rows, want one of both requests' %d", got, slowRows)
			}
			want := 0
			for _, st := range []int{tc.firstStatus, tc.secondStatus} {
				if st == http.StatusGatewayTimeout {
					want++
				}
			}
			if got := s.metric(t, "nv_inference_request_failure", canceled) - failures; got != float64(want) {
				t.Errorf("%v failures CANCELED, want %d", got, want)
			}
		})
	}
}
