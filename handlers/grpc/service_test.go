package grpc_test

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestStream pins ModelStreamInfer: many requests on one stream, answered
// in the order sent; one that fails answers with error_message and its
// id, and the requests after it are still served.
func TestStream(t *testing.T) {
	s := start(t, servertest.Path("models"), options{})
	stream, err := s.client.ModelStreamInfer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	bad := map[int]string{3: "unexpected shape for input 'X'", 7: `model "nope" not found`, 8: "input 'X' appears twice"}
	const n = 20
	for i := range n {
		req := &pb.ModelInferRequest{ModelName: "iris", Id: strings.Repeat("r", i+1), Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}}
		switch i {
		case 3:
			req.Inputs[0].Shape = []int64{4}
		case 7:
			req.ModelName = "nope"
		case 8:
			req.Inputs = append(req.Inputs, req.Inputs[0])
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r, err := stream.Recv()
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if id := r.GetInferResponse().GetId(); id != strings.Repeat("r", i+1) {
			t.Fatalf("answer %d has id %q: out of order", i, id)
		}
		if want, failed := bad[i]; failed != (r.ErrorMessage != "") || !strings.Contains(r.ErrorMessage, want) {
			t.Errorf("answer %d: error_message %q, want %q", i, r.ErrorMessage, want)
		} else if !failed && len(r.InferResponse.RawOutputContents) != 2 {
			t.Errorf("answer %d: %d outputs", i, len(r.InferResponse.RawOutputContents))
		}
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after the last answer: %v, want the stream's end", err)
	}
}

// TestReadinessAndMetadata pins the metadata RPCs and readiness: a model
// that failed to load makes the server not ready (ServerReady, health)
// and is not ready itself, while an unknown one is NOT_FOUND.
func TestReadinessAndMetadata(t *testing.T) {
	dir := servertest.TestRepo(t)
	servertest.WriteFile(t, filepath.Join(dir, "broken", "model.onnx"), "not onnx")
	s := start(t, dir, options{Options: servertest.Options{SkipBad: true}})
	ctx := t.Context()

	if r, err := s.client.ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive: %v, %v", r, err)
	}
	if r, err := s.client.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || r.Ready {
		t.Errorf("ServerReady with a broken model: %v, %v; want false", r, err)
	}
	for _, svc := range []string{"", "inference.GRPCInferenceService"} {
		if r, err := s.health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health %q with a broken model: %v, %v", svc, r, err)
		}
	}
	if _, err := s.health.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); func() bool { c, _ := codeOf(err); return c != codes.NotFound }() {
		t.Errorf("health of an unknown service: %v", err)
	}
	for _, c := range []struct {
		name, version string
		ready         bool
		code          codes.Code
	}{
		{"iris", "", true, codes.OK}, {"iris", "1", true, codes.OK}, {"broken", "", false, codes.OK},
		{"nope", "", false, codes.NotFound}, {"iris", "2", false, codes.NotFound},
	} {
		r, err := s.client.ModelReady(ctx, &pb.ModelReadyRequest{Name: c.name, Version: c.version})
		if code, _ := codeOf(err); code != c.code || r.GetReady() != c.ready {
			t.Errorf("ModelReady %s/%s: %v, %v; want %v %v", c.name, c.version, r, err, c.ready, c.code)
		}
	}

	md, err := s.client.ServerMetadata(ctx, &pb.ServerMetadataRequest{})
	if err != nil || md.Name != "onnxserve" || md.Version == "" || !slices.Contains(md.Extensions, "model_repository") {
		t.Errorf("ServerMetadata: %v, %v", md, err)
	}
	mm, err := s.client.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "zipmap"})
	if err != nil {
		t.Fatal(err)
	}
	// ZipMap's sequences of maps have no v2 datatype: left out.
	if mm.Platform != "onnxruntime_onnx" || len(mm.Inputs) != 1 || len(mm.Outputs) != 1 || mm.Outputs[0].Name != "probabilities" ||
		mm.Inputs[0].Datatype != "FP32" || !slices.Equal(mm.Inputs[0].Shape, []int64{-1, 3}) || !slices.Equal(mm.Versions, []string{"1"}) {
		t.Errorf("ModelMetadata zipmap: %v", mm)
	}
	if _, err := s.client.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "broken"}); func() bool { c, _ := codeOf(err); return c != codes.Unavailable }() {
		t.Errorf("ModelMetadata of a model that failed to load: %v, want UNAVAILABLE", err)
	}
	idx, err := s.client.RepositoryIndex(ctx, &pb.RepositoryIndexRequest{})
	if err != nil || len(idx.Models) != len(servertest.Models)+2 { // + halfid, broken
		t.Errorf("RepositoryIndex: %v, %v", idx, err)
	}
	if idx, err := s.client.RepositoryIndex(ctx, &pb.RepositoryIndexRequest{Ready: true}); err != nil || slices.ContainsFunc(idx.Models, func(m *pb.RepositoryIndexResponse_ModelIndex) bool { return m.Name == "broken" }) {
		t.Errorf("RepositoryIndex ready: %v, %v", idx, err)
	}
}

// TestModelControl pins load and unload over gRPC: refused with
// FAILED_PRECONDITION unless the server runs with explicit control; with
// it, an unloaded model is NOT_FOUND until loaded again.
func TestModelControl(t *testing.T) {
	ctx := t.Context()
	for _, mode := range []runtime.ModelControl{runtime.ControlNone, runtime.ControlPoll} {
		s := start(t, servertest.Path("models"), options{Options: servertest.Options{Control: mode}})
		_, lerr := s.client.RepositoryModelLoad(ctx, &pb.RepositoryModelLoadRequest{ModelName: "iris"})
		_, uerr := s.client.RepositoryModelUnload(ctx, &pb.RepositoryModelUnloadRequest{ModelName: "iris"})
		for _, err := range []error{lerr, uerr} {
			if code, msg := codeOf(err); code != codes.FailedPrecondition || !strings.Contains(msg, "explicit model load / unload is not allowed") {
				t.Errorf("mode %s: %v %q", mode, code, msg)
			}
		}
	}
	s := start(t, servertest.Path("models"), options{Options: servertest.Options{Control: runtime.ControlExplicit}})
	if _, err := s.client.RepositoryModelUnload(ctx, &pb.RepositoryModelUnloadRequest{ModelName: "iris"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.client.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}})
	if code, _ := codeOf(err); code != codes.NotFound {
		t.Errorf("infer after unload: %v", err)
	}
	if _, err := s.client.RepositoryModelLoad(ctx, &pb.RepositoryModelLoadRequest{ModelName: "iris"}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.client.ModelReady(ctx, &pb.ModelReadyRequest{Name: "iris"}); err != nil || !r.Ready {
		t.Errorf("ModelReady after load: %v, %v", r, err)
	}
	_, err = s.client.RepositoryModelLoad(ctx, &pb.RepositoryModelLoadRequest{ModelName: "iris", Parameters: map[string]*pb.ModelRepositoryParameter{
		"config": {ParameterChoice: &pb.ModelRepositoryParameter_StringParam{StringParam: "{}"}}}})
	if code, msg := codeOf(err); code != codes.InvalidArgument || !strings.Contains(msg, "load parameter 'config' is not supported") {
		t.Errorf("load with a config override: %v", err)
	}
	_, err = s.client.RepositoryModelLoad(ctx, &pb.RepositoryModelLoadRequest{ModelName: "nope"})
	if code, _ := codeOf(err); code == codes.OK || code == codes.Internal {
		t.Errorf("load of a model not in the repository: %v", err)
	}
}

// TestReflection pins that grpcurl can list and describe the services
// without a .proto file.
func TestReflection(t *testing.T) {
	s := start(t, servertest.Path("models"), options{})
	stream, err := rpb.NewServerReflectionClient(s.conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range r.GetListServicesResponse().GetService() {
		names = append(names, svc.Name)
	}
	for _, want := range []string{"inference.GRPCInferenceService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("services %v lack %s", names, want)
		}
	}
	if err := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "inference.ModelInferRequest"}}); err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || len(r.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("descriptor of inference.ModelInferRequest: %v, %v", r, err)
	}
}
