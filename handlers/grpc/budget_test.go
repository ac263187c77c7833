package grpc_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpcgo "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/onnxserve/onnxserve/handlers"
	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// budgetServer serves runtime/testdata/sum.onnx (s = the sum of each row
// of x, FLOAT [batch, n]) over REST and gRPC from one core whose
// --max-inflight-bytes is budget.
func budgetServer(t *testing.T, budget int64) (*inference.Core, *httptest.Server, *server) {
	dir := t.TempDir()
	servertest.CopyFile(t, servertest.Path("runtime/testdata/sum.onnx"), dir+"/sum/model.onnx")
	opt := servertest.Options{MaxInflightBytes: budget}
	core := servertest.Core(servertest.Open(t, dir, opt), opt)
	web := httptest.NewServer(handlers.New(handlers.Options{Core: core, MaxBodyBytes: 8 << 20, Logger: servertest.Quiet}))
	t.Cleanup(web.Close)
	return core, web, start(t, "", options{Options: opt, core: core, maxMessage: 8 << 20})
}

// ones is a sum request of n FP32 ones over gRPC, raw: its answer is n.
func ones(n int) *pb.ModelInferRequest {
	return &pb.ModelInferRequest{ModelName: "sum",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1, int64(n)}}},
		RawInputContents: [][]byte{bytes.Repeat(f32raw(1), n)}}
}

// onesV2 is the same request as a v2 binary body: JSON header and data.
func onesV2(n int) (header string, body []byte) {
	header = fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1,%d],"datatype":"FP32","parameters":{"binary_data_size":%d}}]}`, n, 4*n)
	return header, append([]byte(header), bytes.Repeat(f32raw(1), n)...)
}

// held waits, within a bound, for the budget to hold want bytes, and
// fails the test if it never does: the server's handlers run on their
// own goroutines.
func held(t *testing.T, core *inference.Core, want int64, what string) {
	t.Helper()
	for range 1000 {
		if core.Budget().Held() == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: the budget holds %d bytes, want %d", what, core.Budget().Held(), want)
}

// retryDelay is the RetryInfo detail of st, 0 when it has none.
func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			return r.RetryDelay.AsDuration()
		}
	}
	return 0
}

// TestInflightBudget pins --max-inflight-bytes as one budget of REST and
// gRPC together: while an upload that declared most of it is in flight,
// a REST request (v1 or v2) that declares more than is left is answered
// 503 with Retry-After at once, before it sends its body, and a gRPC
// message RESOURCE_EXHAUSTED with a RetryInfo (in a stream, that request's
// error_message, and the stream goes on); once the upload is gone, every
// byte is given back and the same requests are answered with their sums.
// A request larger than the whole budget is 413 / RESOURCE_EXHAUSTED
// without a retry, a body sent without a length is refused once it grows
// past what is left, and a message protobuf cannot read, alone or in a
// stream, gives back what it reserved.
func TestInflightBudget(t *testing.T) {
	const budget = 1 << 20
	core, web, s := budgetServer(t, budget)
	addr := web.Listener.Addr().String()

	// An upload that declares 768 KiB, sends a little and waits.
	up, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	const declared = 768 << 10
	fmt.Fprintf(up, "POST /v2/models/sum/infer HTTP/1.1\r\nHost: t\r\nInference-Header-Content-Length: 10\r\nContent-Length: %d\r\n\r\n0123456789", declared)
	held(t, core, declared, "an upload that declared 768 KiB")

	const n = 128 << 10 // 512 KiB of FP32
	header, body := onesV2(n)
	for _, path := range []string{"/v2/models/sum/infer", "/v1/models/sum/predict"} {
		status, retry, err := declareOnly(addr, path, len(body))
		if err != nil || status != http.StatusServiceUnavailable || retry == "" {
			t.Errorf("%s declaring 512 KiB with 256 KiB left: %d, Retry-After %q, %v; want 503 with Retry-After before the body", path, status, retry, err)
		}
	}
	_, err = s.client.ModelInfer(t.Context(), ones(n))
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || retryDelay(st) <= 0 {
		t.Errorf("gRPC ModelInfer of 512 KiB with 256 KiB left: %v (retry %v), want RESOURCE_EXHAUSTED with a RetryInfo", err, retryDelay(st))
	}
	stream, err := s.client.ModelStreamInfer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(ones(n)); err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || !strings.Contains(r.GetErrorMessage(), "--max-inflight-bytes") {
		t.Errorf("a stream's request of 512 KiB with 256 KiB left: %v %v, want its error_message", r, err)
	}
	// Within what is left, a small request is answered meanwhile.
	if r, err := s.client.ModelInfer(t.Context(), ones(1000)); err != nil || rawf32(r.GetRawOutputContents()[0])[0] != 1000 {
		t.Errorf("a 4 KB request beside the upload: %v %v, want the sum 1000", r, err)
	}
	held(t, core, declared, "the refused requests gone")

	up.Close()
	held(t, core, 0, "the upload gone")
	if r, err := s.client.ModelInfer(t.Context(), ones(n)); err != nil || rawf32(r.GetRawOutputContents()[0])[0] != n {
		t.Errorf("gRPC ModelInfer of 512 KiB with the budget free: %v %v, want the sum %d", r, err, n)
	}
	if err := stream.Send(ones(n)); err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || r.GetErrorMessage() != "" || rawf32(r.GetInferResponse().GetRawOutputContents()[0])[0] != n {
		t.Errorf("the stream's next request with the budget free: %v %v, want the sum %d", r, err, n)
	}
	stream.CloseSend()
	res, answer := servertest.Post(t, web.URL+"/v2/models/sum/infer", body, len(header), false)
	if res != http.StatusOK || !strings.Contains(answer, `"data":[`+strconv.Itoa(n)+`]`) {
		t.Errorf("v2 binary of 512 KiB with the budget free: %d %s, want the sum %d", res, answer, n)
	}

	// Larger than the whole budget: no wait would make room.
	_, big := onesV2(300 << 10)
	if res, answer := servertest.Post(t, web.URL+"/v2/models/sum/infer", big, len(header), false); res != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1.2 MiB body with a 1 MiB budget: %d %s, want 413", res, answer)
	}
	_, err = s.client.ModelInfer(t.Context(), ones(300<<10))
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || retryDelay(st) != 0 {
		t.Errorf("a 1.2 MiB message with a 1 MiB budget: %v, want RESOURCE_EXHAUSTED without a RetryInfo", err)
	}
	// Without a length, the body is reserved as its buffer grows, and
	// refused as the declared one is once it alone needs more than the
	// budget: no retry would fit it.
	if res, answer := servertest.Post(t, web.URL+"/v2/models/sum/infer", big, len(header), true); res != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1.2 MiB body sent chunked with a 1 MiB budget: %d %s, want 413", res, answer)
	}
	// A message protobuf cannot read gives back what it reserved.
	err = s.conn.Invoke(t.Context(), pb.GRPCInferenceService_ModelInfer_FullMethodName, []byte{0x0a, 0xff, 0xff}, new(pb.ModelInferResponse), grpcgo.ForceCodecV2(wireCodec{}))
	if err == nil {
		t.Error("a message cut short was answered")
	}
	bad, err := s.conn.NewStream(t.Context(), &grpcgo.StreamDesc{ClientStreams: true, ServerStreams: true}, pb.GRPCInferenceService_ModelStreamInfer_FullMethodName, grpcgo.ForceCodecV2(wireCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	bad.SendMsg([]byte{0x0a, 0xff, 0xff})
	if err := bad.RecvMsg(new(pb.ModelStreamInferResponse)); err == nil {
		t.Error("a stream's message cut short was answered")
	}
	held(t, core, 0, "every request answered")
}

// wireCodec sends a []byte as the message itself, as no protobuf
// marshaller would: bytes that are not a ModelInferRequest.
type wireCodec struct{}

func (wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (wireCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (wireCodec) Name() string                         { return "proto" }

// declareOnly sends a request that declares a body of n bytes and none of
// it, and returns the status and Retry-After of the answer.
func declareOnly(addr, path string, n int) (int, string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	// A bound on the wait, not a speed check: a server that waits for the
	// body never answers.
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", path, n)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After"), nil
}

// TestTypedContentsReserved pins that what protobuf makes of typed
// contents is reserved, not their size on the wire: 200 000 packed int64
// zeros are 200 KB of message and 1.6 MB of []int64, past a 1 MiB budget
// alone, so RESOURCE_EXHAUSTED; reserving the message twice (400 KB) let
// the call through to the model (and its datatype check).
func TestTypedContentsReserved(t *testing.T) {
	_, _, s := budgetServer(t, 1<<20)
	req := &pb.ModelInferRequest{ModelName: "sum", Inputs: []*pb.ModelInferRequest_InferInputTensor{{
		Name: "x", Datatype: "INT64", Shape: []int64{1, 200_000},
		Contents: &pb.InferTensorContents{Int64Contents: make([]int64, 200_000)},
	}}}
	_, err := s.client.ModelInfer(t.Context(), req)
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "max-inflight-bytes") {
		t.Errorf("1.6 MB of int64 contents with a 1 MiB budget: %v, want RESOURCE_EXHAUSTED naming --max-inflight-bytes", err)
	}
}
