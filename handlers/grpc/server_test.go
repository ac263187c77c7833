package grpc_test

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"testing"

	grpcgo "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	grpcfront "github.com/onnxserve/onnxserve/handlers/grpc"
	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

func TestMain(m *testing.M) { servertest.Main(m) }

// server is one gRPC server under test, over an in-memory connection.
type server struct {
	*grpcfront.Server
	conn   *grpcgo.ClientConn
	client pb.GRPCInferenceServiceClient
	health healthpb.HealthClient
	repo   *runtime.Repository
	// dial opens a connection of its own to the server, for clients that
	// are not grpc-go's.
	dial func(context.Context) (net.Conn, error)
}

type options struct {
	servertest.Options
	maxMessage int    // 0 is 1 MiB
	maxStreams uint32 // 0 is the server's default
	// core, when set, is served instead of a core of its own over dir:
	// one that a REST server serves too.
	core *inference.Core
}

// start serves repository dir over bufconn, as cmd/onnxserve wires it.
func start(t testing.TB, dir string, opt options) *server {
	t.Helper()
	if opt.maxMessage == 0 {
		opt.maxMessage = 1 << 20
	}
	var repo *runtime.Repository
	if opt.core == nil {
		repo = servertest.Open(t, dir, opt.Options)
		opt.core = servertest.Core(repo, opt.Options)
	}
	logger := opt.Logger
	if logger == nil {
		logger = servertest.Quiet
	}
	srv := grpcfront.New(grpcfront.Options{Core: opt.core, MaxMessageBytes: opt.maxMessage, MaxConcurrentStreams: opt.maxStreams,
		Metrics: opt.Metrics, AccessLog: opt.AccessLog, Logger: logger, Keys: opt.Keys})
	ln := bufconn.Listen(1 << 20)
	go srv.Serve(ln)
	conn, err := grpcgo.NewClient("passthrough:///bufconn",
		grpcgo.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpcgo.WithTransportCredentials(insecure.NewCredentials()),
		grpcgo.WithDefaultCallOptions(grpcgo.MaxCallRecvMsgSize(64<<20), grpcgo.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Close()
	})
	return &server{Server: srv, conn: conn, client: pb.NewGRPCInferenceServiceClient(conn), health: healthpb.NewHealthClient(conn), repo: repo,
		dial: ln.DialContext}
}

// codeOf is err's status code and message.
func codeOf(err error) (codes.Code, string) {
	st, _ := status.FromError(err)
	return st.Code(), st.Message()
}

// ready fails the test unless the server still answers ServerReady true.
func (s *server) ready(t *testing.T, after string) {
	t.Helper()
	r, err := s.client.ServerReady(t.Context(), &pb.ServerReadyRequest{})
	if err != nil || !r.GetReady() {
		t.Fatalf("after %s: ServerReady = %v, %v", after, r, err)
	}
}

func f32raw(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func rawf32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// irisInput is one iris row as typed contents.
func irisInput(shape []int64, v ...float32) *pb.ModelInferRequest_InferInputTensor {
	return &pb.ModelInferRequest_InferInputTensor{Name: "X", Datatype: "FP32", Shape: shape, Contents: &pb.InferTensorContents{Fp32Contents: v}}
}

var setosa = []float32{5.1, 3.5, 1.4, 0.2}
