package handlers_test

import (
	"bytes"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// scrape reads /metrics with Prometheus' own text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sample is the value of the sample of family name whose labels include
// want: a counter's or gauge's value, a histogram's count; 0 when absent.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	for _, m := range f.Metric {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// TestMetricsCount pins that every counter rises by exactly what was sent,
// per model and reason, over real HTTP: successes with their rows, runs,
// failures refused while decoding and in the core, the histograms' counts,
// the routes and statuses, and that a model's state and memory are there.
func TestMetricsCount(t *testing.T) {
	mt := metrics.New(metrics.Options{})
	srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{Metrics: mt})
	post := func(path, body string) int {
		res, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	three := `{"inputs": [{"name": "X", "datatype": "FP32", "shape": [3, 4], "data": [5.1, 3.5, 1.4, 0.2, 6.3, 3.3, 6.0, 2.5, 4.9, 3.0, 1.4, 0.2]}]}`
	wrongShape := `{"inputs": [{"name": "X", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}`
	for range 5 {
		if code := post("/v2/models/iris/infer", three); code != 200 {
			t.Fatalf("infer: %d", code)
		}
	}
	for range 2 {
		if code := post("/v2/models/iris/infer", wrongShape); code != 400 {
			t.Fatalf("wrong shape: %d", code)
		}
	}
	// /v1 named features: one row, decoded into the core's request.
	for range 3 {
		if code := post("/v1/models/iris/predict", `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`); code != 200 {
			t.Fatalf("predict: %d", code)
		}
	}
	if code := post("/v1/models/iris/predict", `{"sepal_length": 5.1}`); code != 422 {
		t.Fatalf("missing features: %d", code)
	}

	fams := scrape(t, srv.URL)
	iris := map[string]string{"model": "iris", "version": "1"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"nv_inference_request_success", iris, 8},
		{"nv_inference_count", iris, 5*3 + 3},
		{"nv_inference_exec_count", iris, 8},
		{"nv_inference_request_failure", map[string]string{"model": "iris", "version": "1", "reason": "OTHER"}, 3},
		{"nv_inference_request_failure", map[string]string{"model": "iris", "version": "1", "reason": "REJECTED"}, 0},
		{"onnxserve_request_duration_seconds", iris, 8},
		{"onnxserve_queue_duration_seconds", iris, 8},
		{"onnxserve_compute_duration_seconds", iris, 8},
		{"onnxserve_batch_size", iris, 8},
		{"onnxserve_http_requests_total", map[string]string{"route": "/v2/models/:name/infer", "code": "200"}, 5},
		{"onnxserve_http_requests_total", map[string]string{"route": "/v2/models/:name/infer", "code": "400"}, 2},
		{"onnxserve_http_requests_total", map[string]string{"route": "/v1/models/:name/predict", "code": "422"}, 1},
		{"onnxserve_model_ready", iris, 1},
		{"onnxserve_model_ready", map[string]string{"model": "digits", "version": "1"}, 1},
		{"nv_inference_pending_request_count", iris, 0},
	} {
		if got := sample(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"nv_inference_request_duration_us", "nv_inference_compute_infer_duration_us", "go_goroutines", "process_resident_memory_bytes"} {
		if sample(fams, name, nil) <= 0 {
			t.Errorf("%s is missing or 0", name)
		}
	}
	// A model's memory is there, but may be 0: a load that reuses memory
	// the process freed before (other tests' sessions) grows nothing.
	memory := false
	for _, m := range fams["onnxserve_model_memory_bytes"].GetMetric() {
		for _, l := range m.GetLabel() {
			memory = memory || l.GetName() == "model" && l.GetValue() == "iris"
		}
	}
	if !memory {
		t.Error("onnxserve_model_memory_bytes has no sample for iris")
	}
	// The scrape itself was counted before the next one.
	if got := sample(scrape(t, srv.URL), "onnxserve_http_requests_total", map[string]string{"route": "/metrics", "code": "200"}); got != 1 {
		t.Errorf("scrapes counted: %v, want 1", got)
	}
}

// TestAccessLog pins the access line of a REST request: JSON with every
// field, the client's X-Request-ID kept and echoed, one made when none
// was sent, and the model, version, batch and the v2 id recorded.
func TestAccessLog(t *testing.T) {
	var out bytes.Buffer
	log := servertest.JSONLogger(&out)
	srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{AccessLog: true, Logger: log})
	body := `{"id": "req-7", "inputs": [{"name": "X", "datatype": "FP32", "shape": [2, 4], "data": [5.1, 3.5, 1.4, 0.2, 6.3, 3.3, 6.0, 2.5]}]}`
	req, _ := http.NewRequest("POST", srv.URL+"/v2/models/iris/infer", strings.NewReader(body))
	req.Header.Set("X-Request-ID", "abc-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("echoed id %q", got)
	}
	res, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	made := res.Header.Get("X-Request-ID")
	if len(made) != 16 {
		t.Errorf("made id %q, want 16 hex digits", made)
	}

	lines := servertest.LogLines(t, &out, "request")
	if len(lines) != 2 {
		t.Fatalf("%d access lines, want 2:\n%s", len(lines), out.String())
	}
	infer := lines[0]
	for k, want := range map[string]any{
		"level": "INFO", "request_id": "abc-123", "protocol": "http", "route": "POST /v2/models/:name/infer", "status": "200",
		"model": "iris", "version": "1", "batch": 2.0, "id": "req-7", "bytes_in": float64(len(body)), "client": "127.0.0.1",
	} {
		if infer[k] != want {
			t.Errorf("access line %s = %v, want %v (%v)", k, infer[k], want, infer)
		}
	}
	for _, k := range []string{"duration_ms", "queue_ms", "bytes_out"} {
		if _, ok := infer[k].(float64); !ok {
			t.Errorf("access line has no number %s: %v", k, infer)
		}
	}
	if lines[1]["request_id"] != made || lines[1]["route"] != "GET /healthz" {
		t.Errorf("health line %v", lines[1])
	}
}

// TestAccessLogClient pins whose address the access line names: the
// peer's, unless the peer is a trusted proxy, whose X-Forwarded-For
// (the nearest address it does not trust) or X-Real-IP names the client.
// A header from any other peer is ignored: it would let any client log
// itself under another address.
func TestAccessLogClient(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		header  map[string]string
		want    string
	}{
		{"no header", nil, nil, "127.0.0.1"},
		{"forwarded from a peer not trusted", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"}, "127.0.0.1"},
		{"real ip from a peer not trusted", nil, map[string]string{"X-Real-IP": "203.0.113.9"}, "127.0.0.1"},
		{"other proxies trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, map[string]string{"X-Forwarded-For": "203.0.113.9"}, "127.0.0.1"},
		{"trusted proxy, no header", loopback, nil, "127.0.0.1"},
		{"trusted proxy forwards", loopback, map[string]string{"X-Forwarded-For": "203.0.113.9"}, "203.0.113.9"},
		{"nearest untrusted hop", loopback, map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 127.0.0.5"}, "203.0.113.9"},
		{"trusted proxy's real ip", loopback, map[string]string{"X-Real-IP": "203.0.113.9"}, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			srv, _ := servertest.Start(t, servertest.Path("models"), servertest.Options{AccessLog: true, Logger: servertest.JSONLogger(&out), TrustedProxies: tc.trusted})
			req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			lines := servertest.LogLines(t, &out, "request")
			if len(lines) != 1 || lines[0]["client"] != tc.want {
				t.Errorf("access lines %v, want one with client %s", lines, tc.want)
			}
		})
	}
}
