package grpc_test

import (
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestWarmupGatesReadiness pins that no gRPC probe (ServerReady,
// ModelReady, grpc.health.v1) calls a model ready before its warmup is
// done: the slow model with 2 warmup runs at batch_size 8192, loaded by
// RepositoryModelLoad in explicit mode. The test holds the server's one run
// slot from before the load, and a warmup run needs it, so the model cannot
// be warm while the test looks: no timing decides the outcome. Once the
// slot is free the load returns and every probe says ready.
func TestWarmupGatesReadiness(t *testing.T) {
	dir := t.TempDir()
	servertest.CopyFile(t, servertest.Path("runtime/testdata/slow.onnx"), dir+"/slow/model.onnx")
	servertest.WriteFile(t, dir+"/slow/config.yaml", "warmup: {runs: 2, batch_size: 8192}\n")
	limiter := runtime.NewLimiter(1)
	s := start(t, dir, options{Options: servertest.Options{Control: runtime.ControlExplicit, Load: []string{}, Limiter: limiter}})

	release := servertest.HoldRunSlot(t, limiter)
	loaded := make(chan error, 1)
	go func() {
		_, err := s.client.RepositoryModelLoad(t.Context(), &pb.RepositoryModelLoadRequest{ModelName: "slow"})
		loaded <- err
	}()
	// The index says "loading" from the moment the load begins.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		idx, err := s.client.RepositoryIndex(t.Context(), &pb.RepositoryIndexRequest{})
		if err != nil {
			t.Fatal(err)
		}
		m := idx.GetModels()
		if len(m) == 1 && m[0].GetState() == "UNAVAILABLE" && m[0].GetReason() == "loading" {
			break
		}
		if len(m) == 1 && m[0].GetState() == "READY" {
			t.Fatalf("index %v: ready before its warmup could run", m)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the load never began: index %v", m)
		}
	}
	if got := s.probe(t); got != (probes{}) {
		t.Errorf("during the warmup: %+v, want nothing ready", got)
	}
	select {
	case err := <-loaded:
		t.Fatalf("the load returned (%v) while its warmup could not run", err)
	default:
	}

	release()
	select {
	case err := <-loaded:
		if err != nil {
			t.Fatalf("load: %v", err)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("the load did not return within 5 minutes of its warmup's slot being free")
	}
	if got, want := s.probe(t), (probes{server: true, model: true, version: true, health: true}); got != want {
		t.Errorf("after the warmup: %+v, want %+v", got, want)
	}
}

// probes are the gRPC readiness answers: ServerReady, ModelReady of the
// slow model and of its version 1, and whether grpc.health.v1 says SERVING.
type probes struct{ server, model, version, health bool }

func (s *server) probe(t *testing.T) probes {
	t.Helper()
	var p probes
	sr, err := s.client.ServerReady(t.Context(), &pb.ServerReadyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p.server = sr.GetReady()
	for v, ready := range map[string]*bool{"": &p.model, "1": &p.version} {
		mr, err := s.client.ModelReady(t.Context(), &pb.ModelReadyRequest{Name: "slow", Version: v})
		if err != nil {
			t.Fatalf("ModelReady version %q: %v", v, err)
		}
		*ready = mr.GetReady()
	}
	h, err := s.health.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p.health = h.GetStatus() == healthpb.HealthCheckResponse_SERVING
	return p
}
