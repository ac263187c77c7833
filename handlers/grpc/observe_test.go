package grpc_test

import (
	"bytes"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	grpcgo "google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/handlers/servertest"
)

func counter(t *testing.T, mt *metrics.Metrics, name string, want map[string]string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	mt.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, m := range fams[name].GetMetric() {
		if matches(m, want) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func matches(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		ok := false
		for _, l := range m.Label {
			ok = ok || l.GetName() == k && l.GetValue() == v
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestObserved pins what gRPC calls leave in the metrics and the access
// log: counters by model and reason and by method and code, the same as
// REST's; an access line per call with the client's x-request-id (echoed
// in the response header), and one per request of a stream.
func TestObserved(t *testing.T) {
	mt := metrics.New(metrics.Options{})
	var out bytes.Buffer
	s := start(t, servertest.Path("models"), options{Options: servertest.Options{Metrics: mt, AccessLog: true, Logger: servertest.JSONLogger(&out)}})
	good := &pb.ModelInferRequest{ModelName: "iris", Id: "g", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}}
	bad := &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{4}, setosa...)}}
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "call-1")
	var header metadata.MD
	if _, err := s.client.ModelInfer(ctx, good, grpcgo.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "call-1" {
		t.Errorf("response header x-request-id %v", got)
	}
	for range 2 {
		if _, err := s.client.ModelInfer(t.Context(), good); err != nil {
			t.Fatal(err)
		}
	}
	s.client.ModelInfer(t.Context(), bad)
	stream, err := s.client.ModelStreamInfer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*pb.ModelInferRequest{good, bad} {
		stream.Send(r)
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	stream.Recv()

	iris := map[string]string{"model": "iris", "version": "1"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"nv_inference_request_success", iris, 4},
		{"nv_inference_request_failure", map[string]string{"model": "iris", "reason": "OTHER"}, 2},
		{"onnxserve_grpc_requests_total", map[string]string{"method": "/inference.GRPCInferenceService/ModelInfer", "code": "OK"}, 3},
		{"onnxserve_grpc_requests_total", map[string]string{"method": "/inference.GRPCInferenceService/ModelInfer", "code": "InvalidArgument"}, 1},
		{"onnxserve_grpc_requests_total", map[string]string{"method": "/inference.GRPCInferenceService/ModelStreamInfer", "code": "OK"}, 1},
	} {
		if got := counter(t, mt, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	lines := servertest.LogLines(t, &out, "request")
	// 4 unary calls, 2 requests on the stream, the stream itself.
	if len(lines) != 7 {
		t.Fatalf("%d access lines, want 7:\n%s", len(lines), out.String())
	}
	// Lines are written as calls end, which need not be the order they
	// were made in: find each by what it says.
	find := func(want map[string]any) map[string]any {
		for _, l := range lines {
			match := true
			for k, v := range want {
				match = match && l[k] == v
			}
			if match {
				return l
			}
		}
		t.Errorf("no access line with %v in:\n%s", want, out.String())
		return map[string]any{}
	}
	first := find(map[string]any{"request_id": "call-1"})
	for k, want := range map[string]any{"protocol": "grpc", "route": "/inference.GRPCInferenceService/ModelInfer",
		"status": "OK", "model": "iris", "version": "1", "batch": 1.0, "id": "g"} {
		if first[k] != want {
			t.Errorf("access line %s = %v, want %v (%v)", k, first[k], want, first)
		}
	}
	if in, _ := first["bytes_in"].(float64); in <= 0 {
		t.Errorf("bytes_in %v", first["bytes_in"])
	}
	if l := find(map[string]any{"route": "/inference.GRPCInferenceService/ModelInfer", "status": "InvalidArgument"}); l["error"] == nil || l["model"] != "iris" {
		t.Errorf("failed call's line %v", l)
	}
	if l := find(map[string]any{"route": "/inference.GRPCInferenceService/ModelStreamInfer", "status": "InvalidArgument"}); l["error"] == nil || l["model"] != "iris" {
		t.Errorf("the stream's failed request's line %v", l)
	}
}
