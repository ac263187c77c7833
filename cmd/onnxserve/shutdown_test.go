package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
)

const irisSetosa = `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`

// answer is one HTTP exchange's status, body and whether the server said
// it closes the connection.
type answer struct {
	status int
	body   string
	close  bool
}

func exchange(t *testing.T, c *http.Client, method, url, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, string(b), res.Close}
}

// TestShutdownDelay pins what --shutdown-delay promises, over the real
// binary: from SIGTERM on, readiness says no (/readyz 503, /v2/health/ready
// 400 as Triton's, gRPC ServerReady false and health NOT_SERVING) while
// liveness stays 200 and inference, REST and gRPC, is still answered; REST
// answers carry Connection: close. The delay is long, so the checks never
// race its end; a second SIGTERM cuts it short, and the process exits 0.
func TestShutdownDelay(t *testing.T) {
	p := startProcess(t, "--shutdown-delay", "10m")
	base := "http://" + p.addr
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	infer := pb.NewGRPCInferenceServiceClient(conn)
	health := healthpb.NewHealthClient(conn)

	type check struct {
		name         string
		method, path string
		body         string
		status       int    // before SIGTERM
		drained      int    // during the delay
		drainedBody  string // part of the body during the delay
	}
	checks := []check{
		{"readiness", "GET", "/readyz", "", 200, 503, `{"error":"shutting down"`},
		{"v2 readiness", "GET", "/v2/health/ready", "", 200, 400, `{"error":"shutting down"}`},
		{"liveness", "GET", "/healthz", "", 200, 200, `"status":"ok"`},
		{"v2 liveness", "GET", "/v2/health/live", "", 200, 200, `"live":true`},
		{"v1 predict", "POST", "/v1/models/iris/predict", irisSetosa, 200, 200, `"label":"setosa"`},
		{"v2 infer", "POST", "/v2/models/iris/infer", `{"inputs":[{"name":"X","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`, 200, 200, `"name":"label"`},
	}
	for _, ck := range checks {
		if a := exchange(t, c, ck.method, base+ck.path, ck.body); a.status != ck.status || a.close {
			t.Errorf("%s before SIGTERM: %d (close %v) %s, want %d on a kept connection", ck.name, a.status, a.close, a.body, ck.status)
		}
	}
	grpcInfer := func() error {
		_, err := infer.ModelInfer(t.Context(), &pb.ModelInferRequest{ModelName: "iris",
			Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "X", Datatype: "FP32", Shape: []int64{1, 4},
				Contents: &pb.InferTensorContents{Fp32Contents: []float32{5.1, 3.5, 1.4, 0.2}}}}})
		return err
	}
	if r, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health before SIGTERM: %v %v", r, err)
	}

	p.terminate(t)
	// Readiness turns at the signal; wait for the process to have taken it.
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err := probe.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never turned 503 after SIGTERM")
		}
	}
	for _, ck := range checks {
		a := exchange(t, c, ck.method, base+ck.path, ck.body)
		if a.status != ck.drained || !strings.Contains(a.body, ck.drainedBody) || !a.close {
			t.Errorf("%s during the delay: %d (close %v) %s, want %d with %s and Connection: close", ck.name, a.status, a.close, a.body, ck.drained, ck.drainedBody)
		}
	}
	if err := grpcInfer(); err != nil {
		t.Errorf("gRPC ModelInfer during the delay: %v", err)
	}
	if r, err := infer.ServerReady(t.Context(), &pb.ServerReadyRequest{}); err != nil || r.Ready {
		t.Errorf("gRPC ServerReady during the delay: %v %v, want false", r, err)
	}
	if r, err := infer.ServerLive(t.Context(), &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("gRPC ServerLive during the delay: %v %v, want true", r, err)
	}
	if r, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health during the delay: %v %v, want NOT_SERVING", r, err)
	}
	p.terminate(t)
	p.exited(t)
}
