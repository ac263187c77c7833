package grpc_test

import (
	"testing"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestModelMetadataExecutionProvider pins the execution_provider
// parameter of ModelMetadata (onnxserve's field 6): with CUDA the
// server's default on this CPU-only ONNX Runtime, a model falls back to
// CPU and says so.
func TestModelMetadataExecutionProvider(t *testing.T) {
	s := start(t, servertest.Path("models"), options{Options: servertest.Options{ExecutionProvider: runtime.ProviderCUDA}})
	for _, name := range []string{"iris", "digits", "tabular"} {
		md, err := s.client.ModelMetadata(t.Context(), &pb.ModelMetadataRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if got := md.GetParameters()["execution_provider"].GetStringParam(); got != "cpu" {
			t.Errorf("%s: execution_provider %q, want cpu; parameters %v", name, got, md.GetParameters())
		}
	}
}
