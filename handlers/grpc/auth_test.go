package grpc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	grpcgo "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/onnxserve/onnxserve/handlers/auth"
	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// services are the descriptions of every service the server registers,
// by name, for the calls below and the table's coverage.
var services = map[string]grpcgo.ServiceDesc{
	"inference.GRPCInferenceService":           pb.GRPCInferenceService_ServiceDesc,
	"grpc.health.v1.Health":                    healthpb.Health_ServiceDesc,
	"grpc.reflection.v1.ServerReflection":      rpb.ServerReflection_ServiceDesc,
	"grpc.reflection.v1alpha.ServerReflection": rpbalpha.ServerReflection_ServiceDesc,
}

// rpcCall is one call of an RPC: a request it takes and a new response.
type rpcCall struct {
	stream bool
	req    proto.Message
	resp   func() proto.Message
}

func calls() map[string]rpcCall {
	infer := &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}}
	const svc = "/inference.GRPCInferenceService/"
	list := &rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}
	listAlpha := &rpbalpha.ServerReflectionRequest{MessageRequest: &rpbalpha.ServerReflectionRequest_ListServices{}}
	return map[string]rpcCall{
		svc + "ServerLive":             {false, &pb.ServerLiveRequest{}, func() proto.Message { return &pb.ServerLiveResponse{} }},
		svc + "ServerReady":            {false, &pb.ServerReadyRequest{}, func() proto.Message { return &pb.ServerReadyResponse{} }},
		svc + "ServerMetadata":         {false, &pb.ServerMetadataRequest{}, func() proto.Message { return &pb.ServerMetadataResponse{} }},
		svc + "ModelReady":             {false, &pb.ModelReadyRequest{Name: "iris"}, func() proto.Message { return &pb.ModelReadyResponse{} }},
		svc + "ModelMetadata":          {false, &pb.ModelMetadataRequest{Name: "iris"}, func() proto.Message { return &pb.ModelMetadataResponse{} }},
		svc + "ModelInfer":             {false, infer, func() proto.Message { return &pb.ModelInferResponse{} }},
		svc + "ModelStreamInfer":       {true, infer, func() proto.Message { return &pb.ModelStreamInferResponse{} }},
		svc + "RepositoryIndex":        {false, &pb.RepositoryIndexRequest{}, func() proto.Message { return &pb.RepositoryIndexResponse{} }},
		svc + "RepositoryModelLoad":    {false, &pb.RepositoryModelLoadRequest{ModelName: "iris"}, func() proto.Message { return &pb.RepositoryModelLoadResponse{} }},
		svc + "RepositoryModelUnload":  {false, &pb.RepositoryModelUnloadRequest{ModelName: "iris"}, func() proto.Message { return &pb.RepositoryModelUnloadResponse{} }},
		"/grpc.health.v1.Health/Check": {false, &healthpb.HealthCheckRequest{}, func() proto.Message { return &healthpb.HealthCheckResponse{} }},
		"/grpc.health.v1.Health/List":  {false, &healthpb.HealthListRequest{}, func() proto.Message { return &healthpb.HealthListResponse{} }},
		"/grpc.health.v1.Health/Watch": {true, &healthpb.HealthCheckRequest{}, func() proto.Message { return &healthpb.HealthCheckResponse{} }},
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {true, list, func() proto.Message { return &rpb.ServerReflectionResponse{} }},
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {true, listAlpha, func() proto.Message { return &rpbalpha.ServerReflectionResponse{} }},
	}
}

// invoke makes call c of method on conn, unary or as a stream of one
// request, and returns its (first) answer.
func invoke(ctx context.Context, conn *grpcgo.ClientConn, method string, c rpcCall) (proto.Message, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends a Watch that would go on
	resp := c.resp()
	if !c.stream {
		return resp, conn.Invoke(ctx, method, c.req, resp)
	}
	s, err := conn.NewStream(ctx, &grpcgo.StreamDesc{ClientStreams: true, ServerStreams: true}, method)
	if err == nil {
		err = s.SendMsg(c.req)
	}
	if err == nil {
		err = s.CloseSend()
	}
	// SendMsg says io.EOF when the server has ended the stream already,
	// as it does on a refused key if the refusal wins the race with the
	// send: the status is RecvMsg's to tell.
	if err == nil || errors.Is(err, io.EOF) {
		err = s.RecvMsg(resp)
	}
	return resp, err
}

// TestAuthRPCsInTable pins that auth's table names every method of every
// service the server serves (as its reflection lists them), and no other.
func TestAuthRPCsInTable(t *testing.T) {
	s := start(t, servertest.Path("models"), options{})
	r, err := invoke(t.Context(), s.conn, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", calls()["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"])
	if err != nil {
		t.Fatal(err)
	}
	policy := auth.NewPolicy()
	served := map[string]bool{}
	for _, svc := range r.(*rpb.ServerReflectionResponse).GetListServicesResponse().GetService() {
		desc, ok := services[svc.Name]
		if !ok {
			t.Errorf("service %s is served, but neither this test nor handlers/auth/policy.go knows its methods", svc.Name)
			continue
		}
		var methods []string
		for _, m := range desc.Methods {
			methods = append(methods, m.MethodName)
		}
		for _, m := range desc.Streams {
			methods = append(methods, m.StreamName)
		}
		for _, m := range methods {
			full := "/" + svc.Name + "/" + m
			served[full] = true
			if _, ok := policy.RPC(full); !ok {
				t.Errorf("RPC %s has no scope in handlers/auth/policy.go", full)
			}
		}
	}
	for _, rule := range auth.Rules() {
		if !rule.HTTP && !served[rule.Path] {
			t.Errorf("handlers/auth/policy.go names %s, which the server does not serve", rule.Path)
		}
	}
}

// issueScope is the scope issue 12 gives an RPC, in its words: health,
// the server's metadata and reflection open, the repository admin, every
// other model RPC infer.
func issueScope(method string) auth.Scope {
	switch {
	case strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasPrefix(method, "/grpc.reflection."),
		strings.HasSuffix(method, "/ServerLive"), strings.HasSuffix(method, "/ServerReady"), strings.HasSuffix(method, "/ServerMetadata"):
		return auth.Open
	case strings.Contains(method, "/Repository"):
		return auth.Admin
	}
	return auth.Infer
}

// TestAuthMatrix pins, for every RPC of auth's table, unary and streaming,
// what each caller gets: no key and an unknown key UNAUTHENTICATED, a key
// without the RPC's scope PERMISSION_DENIED; the right key, as
// authorization: Bearer or x-api-key metadata, the very answer a server
// without keys gives. Open RPCs answer everyone as the open server does.
func TestAuthMatrix(t *testing.T) {
	open := start(t, servertest.Path("models"), options{})
	locked := start(t, servertest.Path("models"), options{Options: servertest.Options{Keys: servertest.Keys(t)}})
	lacking := map[auth.Scope]string{auth.Infer: servertest.MetricsKey, auth.Admin: servertest.InferKey}
	right := map[auth.Scope]string{auth.Infer: servertest.InferKey, auth.Admin: servertest.AdminKey}
	all := calls()
	for _, rule := range auth.Rules() {
		if rule.HTTP {
			continue
		}
		if want := issueScope(rule.Path); rule.Need != want {
			t.Errorf("%s needs %v in the table, %v by the issue", rule.Path, rule.Need, want)
		}
		c, ok := all[rule.Path]
		if !ok {
			t.Errorf("no call of %s in this test", rule.Path)
			continue
		}
		want, wantErr := invoke(t.Context(), open.conn, rule.Path, c)
		wantCode, _ := codeOf(wantErr)
		for _, caller := range []struct {
			how string
			md  []string
		}{
			{"without a key", nil},
			{"with an unknown key", []string{"authorization", "Bearer nope"}},
			{"with an unknown x-api-key", []string{"x-api-key", "nope"}},
			{"with a key lacking the scope", []string{"authorization", "Bearer " + lacking[rule.Need]}},
			{"with the right key", []string{"authorization", "Bearer " + right[rule.Need]}},
			{"with the right x-api-key", []string{"x-api-key", right[rule.Need]}},
		} {
			ctx := t.Context()
			if caller.md != nil {
				ctx = metadata.AppendToOutgoingContext(ctx, caller.md...)
			}
			got, err := invoke(ctx, locked.conn, rule.Path, c)
			code, msg := codeOf(err)
			if rule.Need == auth.Open || strings.HasPrefix(caller.how, "with the right") {
				if code != wantCode || err == nil && !proto.Equal(got, want) {
					t.Errorf("%s %s: %v %v, want the open server's %v %v", rule.Path, caller.how, code, got, wantCode, want)
				}
				continue
			}
			wantDenied := codes.Unauthenticated
			if caller.how == "with a key lacking the scope" {
				wantDenied = codes.PermissionDenied
			}
			if code != wantDenied {
				t.Errorf("%s %s: %v %q, want %v", rule.Path, caller.how, code, msg, wantDenied)
			}
			if strings.Contains(msg, servertest.InferKey) || strings.Contains(msg, servertest.AdminKey) || strings.Contains(msg, servertest.MetricsKey) {
				t.Errorf("%s %s: the message names a key: %s", rule.Path, caller.how, msg)
			}
		}
	}
}

// TestAuthAccessLog pins that a call's access line, and each of a
// stream's requests', names its key by id (the first 8 hex digits of its
// SHA-256), never by the key.
func TestAuthAccessLog(t *testing.T) {
	var log servertest.SyncBuffer
	s := start(t, servertest.Path("models"), options{Options: servertest.Options{Keys: servertest.Keys(t), AccessLog: true, Logger: servertest.JSONLogger(&log)}})
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+servertest.InferKey)
	all := calls()
	for _, m := range []string{"/inference.GRPCInferenceService/ModelInfer", "/inference.GRPCInferenceService/ModelStreamInfer"} {
		if _, err := invoke(ctx, s.conn, m, all[m]); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	d := sha256.Sum256([]byte(servertest.InferKey))
	id := hex.EncodeToString(d[:])[:8]
	var lines []map[string]any
	servertest.WaitFor(t, "the access lines", func() bool {
		lines = lines[:0]
		for _, l := range servertest.LogLines(t, bytes.NewBufferString(log.String()), "request") {
			if l["model"] == "iris" {
				lines = append(lines, l)
			}
		}
		return len(lines) >= 2
	})
	for _, l := range lines {
		if l["key"] != id {
			t.Errorf("access line %v, want key %s", l, id)
		}
	}
	if strings.Contains(log.String(), servertest.InferKey) {
		t.Errorf("the log names the key: %s", log.String())
	}
}

// TestAuthStreamKeyRevoked pins that a key taken out of the keys file
// stops the streams opened with it at their next message, as it stops new
// calls: the key is checked for every message, not once per stream.
func TestAuthStreamKeyRevoked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path+".tmp", []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	write("kept infer\nrevoked infer\n")
	keys, err := auth.New(auth.Options{File: path, Logger: servertest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	go keys.Watch(t.Context(), 5*time.Millisecond)
	s := start(t, servertest.Path("models"), options{Options: servertest.Options{Keys: keys}})
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer revoked")
	stream, err := s.client.ModelStreamInfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || r.ErrorMessage != "" {
		t.Fatalf("the first message with the key in force: %v %v", r, err)
	}
	write("kept infer\n")
	kept := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer revoked")
	servertest.WaitFor(t, "the revoked key to be refused", func() bool {
		_, err := s.client.ModelMetadata(kept, &pb.ModelMetadataRequest{Name: "iris"})
		return status.Code(err) == codes.Unauthenticated
	})
	stream.Send(req) // may see io.EOF if the refusal wins: the status is Recv's
	if _, err := stream.Recv(); status.Code(err) != codes.Unauthenticated {
		t.Errorf("the stream's next message after the key was revoked: %v, want UNAUTHENTICATED", err)
	}
}
