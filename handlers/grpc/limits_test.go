package grpc_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/protobuf/proto"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// slowRows is a batch of the slow test model (runtime/testdata/slow.onnx,
// 256 chained MatMuls) whose whole run takes seconds on one core, and
// slowMessage a message limit it fits in.
const (
	slowRows    = 8192
	slowMessage = 16 << 20
)

func slowRequest(rows int) *pb.ModelInferRequest {
	return &pb.ModelInferRequest{ModelName: "slow",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{int64(rows), 256}}},
		RawInputContents: [][]byte{make([]byte, rows*256*4)}}
}

// slowServer serves the slow model alone, with one run at once, so that a
// second request waits for the first, and the server's request timeout
// (0: none).
func slowServer(t *testing.T, config string, timeout time.Duration) *server {
	dir := t.TempDir()
	servertest.CopyFile(t, servertest.Path("runtime/testdata/slow.onnx"), dir+"/slow/model.onnx")
	if config != "" {
		servertest.WriteFile(t, dir+"/slow/config.yaml", config)
	}
	return start(t, dir, options{Options: servertest.Options{Limiter: runtime.NewLimiter(1), Timeout: timeout}, maxMessage: slowMessage})
}

// wholeRun is how long a whole run of slowRows takes on this machine now:
// what the tests that stop a run compare with, rather than a fixed time.
func (s *server) wholeRun(t *testing.T) time.Duration {
	t.Helper()
	begin := time.Now()
	if _, err := s.client.ModelInfer(t.Context(), slowRequest(slowRows)); err != nil {
		t.Fatal(err)
	}
	return time.Since(begin)
}

// freed fails the test unless the run slot is free again well before a
// whole run could have ended: the stopped run gave it back.
func (s *server) freed(t *testing.T, whole time.Duration, what string) {
	t.Helper()
	begin := time.Now()
	if _, err := s.client.ModelInfer(t.Context(), slowRequest(1)); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(begin); waited > whole/3 {
		t.Errorf("the next request waited %v for the slot, and a whole run takes %v: the run went on after %s", waited, whole, what)
	}
}

// TestDeadline pins that a deadline that passes during a run ends the run
// (ONNX Runtime's terminate, between two of its MatMuls), and one that
// passes while the request waits for the one run slot drops it unrun:
// either way the client gets DEADLINE_EXCEEDED, and the slot is free again
// long before a whole run could have ended, which the next request shows.
// Both requests are whole runs, so that whichever comes second waits.
func TestDeadline(t *testing.T) {
	s := slowServer(t, "", 0)
	whole := s.wholeRun(t)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.client.ModelInfer(ctx, slowRequest(slowRows)) }()
	}
	wg.Wait()
	for i, err := range errs {
		if code, _ := codeOf(err); code != codes.DeadlineExceeded {
			t.Errorf("request %d: %v, want DEADLINE_EXCEEDED", i, err)
		}
	}
	s.freed(t, whole, "its deadline")
}

// TestDeadlineBounds pins the bounds the server sets besides the client's
// own deadline: the server's --request-timeout (inference.Options.Timeout),
// the model's request_timeout and the request parameter timeout (an
// int64_param of µs, as Triton's), and that the shortest wins. At 200 ms
// the run is stopped and the answer is DEADLINE_EXCEEDED naming the bound,
// long before a whole run could have ended; the slot is free right after.
func TestDeadlineBounds(t *testing.T) {
	whole := slowServer(t, "", 0).wholeRun(t)
	timeout := func(us int64) map[string]*pb.InferParameter {
		return map[string]*pb.InferParameter{"timeout": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: us}}}
	}
	for _, tc := range []struct {
		name   string
		config string
		server time.Duration
		params map[string]*pb.InferParameter
		cause  string
	}{
		{"the server's timeout", "", 200 * time.Millisecond, nil, "the server's request timeout (200ms) passed"},
		{"the model's request_timeout", "request_timeout: 200ms\n", 0, nil, "the model's request_timeout (200ms) passed"},
		{"the parameter timeout", "", 0, timeout(200000), "the request's timeout parameter (200ms) passed"},
		{"the shortest: the parameter", "request_timeout: 1s\n", 5 * time.Second, timeout(200000), "the request's timeout parameter (200ms) passed"},
		{"the shortest: the server's", "request_timeout: 1s\n", 200 * time.Millisecond, timeout(60000000), "the server's request timeout (200ms) passed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := slowServer(t, tc.config, tc.server)
			req := slowRequest(slowRows)
			req.Parameters = tc.params
			begin := time.Now()
			_, err := s.client.ModelInfer(t.Context(), req)
			took := time.Since(begin)
			if code, msg := codeOf(err); code != codes.DeadlineExceeded || msg != "request deadline exceeded before the model answered: "+tc.cause {
				t.Errorf("%v %q, want DEADLINE_EXCEEDED naming %q", code, msg, tc.cause)
			}
			if took > whole/2 {
				t.Errorf("answered after %v, and a whole run takes %v: the run was not stopped at its deadline", took, whole)
			}
			s.freed(t, whole, tc.name)
			s.ready(t, tc.name)
		})
	}
}

// TestStreamDeadline pins the parameter timeout on a stream: the request
// whose deadline passes answers with error_message naming it, and the
// stream goes on to serve the next one.
func TestStreamDeadline(t *testing.T) {
	s := slowServer(t, "", 0)
	stream, err := s.client.ModelStreamInfer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cut, after := slowRequest(slowRows), slowRequest(1)
	cut.Id, after.Id = "cut", "after"
	cut.Parameters = map[string]*pb.InferParameter{"timeout": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 200000}}}
	for _, req := range []*pb.ModelInferRequest{cut, after} {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	for _, want := range []struct{ id, err string }{
		{"cut", "request deadline exceeded before the model answered: the request's timeout parameter (200ms) passed"},
		{"after", ""},
	} {
		r, err := stream.Recv()
		if err != nil || r.GetInferResponse().GetId() != want.id || r.ErrorMessage != want.err {
			t.Errorf("answer id %q error_message %q, %v; want id %q and error_message %q", r.GetInferResponse().GetId(), r.GetErrorMessage(), err, want.id, want.err)
		}
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after the last answer: %v, want the stream's end", err)
	}
}

// TestCancel pins that a client that goes away mid-run stops the run.
func TestCancel(t *testing.T) {
	s := slowServer(t, "", 0)
	whole := s.wholeRun(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := s.client.ModelInfer(ctx, slowRequest(slowRows))
	if code, _ := codeOf(err); code != codes.Canceled {
		t.Errorf("cancelled request: %v", err)
	}
	s.freed(t, whole, "the client left")
}

// TestOverload pins that a request past the model's max_queue_size is
// RESOURCE_EXHAUSTED at once, with a RetryInfo saying when to retry. Two
// whole runs hold the slot and the queue's one place; a probe with a short
// deadline finds the queue full once both are in. A whole run that finds
// the queue's place taken by a probe is sent again, and a probe that
// queued waits before the next, so that the whole run takes the place: the
// server answers a probe a little before its deadline (answerInTime), its
// place is free by then, and the probes would only ever queue behind the
// one whole run left.
func TestOverload(t *testing.T) {
	s := slowServer(t, "max_queue_size: 1\n", 0)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{}, 2)
	for range 2 { // one runs, one waits in the queue
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				_, err := s.client.ModelInfer(ctx, slowRequest(slowRows))
				if code, _ := codeOf(err); code != codes.ResourceExhausted {
					return
				}
				time.Sleep(5 * time.Millisecond) // well inside a probe's pause
			}
		}()
	}
	var st *status.Status
	for try := 0; try < 50; try++ {
		probe, stop := context.WithTimeout(t.Context(), 100*time.Millisecond)
		_, err := s.client.ModelInfer(probe, slowRequest(1))
		stop()
		// OK: it ran before the others came; DEADLINE_EXCEEDED: it
		// queued, and the queue was not full yet.
		if st, _ = status.FromError(err); st.Code() != codes.OK && st.Code() != codes.DeadlineExceeded {
			break
		}
		if st.Code() == codes.DeadlineExceeded {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("a request past the queue: %v, want RESOURCE_EXHAUSTED", st.Err())
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.RetryDelay.AsDuration() <= 0 {
		t.Errorf("details %v: no RetryInfo", st.Details())
	}
	cancel()
	<-done
	<-done
	s.ready(t, "overload")
}

// TestMessageLimit pins that a message over --max-body-bytes is refused
// with RESOURCE_EXHAUSTED, and the server goes on.
func TestMessageLimit(t *testing.T) {
	s := start(t, servertest.Path("models"), options{maxMessage: 64 << 10})
	req := &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}, Id: string(make([]byte, 100<<10))}
	_, err := s.client.ModelInfer(t.Context(), req)
	if code, _ := codeOf(err); code != codes.ResourceExhausted {
		t.Errorf("a 100 KiB message: %v, want RESOURCE_EXHAUSTED", err)
	}
	s.ready(t, "a message over the limit")
}

// TestResponseLimit pins that an answer over the limit is not sent: the
// client gets RESOURCE_EXHAUSTED, not a message larger than it agreed to.
// Classes take more room than the features they come from: 64 iris rows
// are a 1 KiB request and a 4 KiB answer.
func TestResponseLimit(t *testing.T) {
	s := start(t, servertest.Path("models"), options{maxMessage: 2 << 10})
	req := &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{64, 4}, make([]float32, 256)...)},
		Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "probabilities", Parameters: map[string]*pb.InferParameter{
			"classification": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 3}}}}}}
	_, err := s.client.ModelInfer(t.Context(), req)
	if code, _ := codeOf(err); code != codes.ResourceExhausted {
		t.Errorf("an answer over the limit: %v, want RESOURCE_EXHAUSTED", err)
	}
	s.ready(t, "an answer over the limit")
}

// openStream opens a ModelStreamInfer stream and has req answered on it:
// once it is, the stream is open on the server, a call in flight.
func (s *server) openStream(t *testing.T, req *pb.ModelInferRequest) pb.GRPCInferenceService_ModelStreamInferClient {
	t.Helper()
	stream, err := s.client.ModelStreamInfer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	return stream
}

// TestMaxStreams pins --grpc-max-streams: while a stream holds the one
// call a connection may have in flight, a second call on that connection
// waits for it instead of running beside it or failing.
func TestMaxStreams(t *testing.T) {
	s := start(t, servertest.Path("models"), options{maxStreams: 1})
	req := &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}}
	stream := s.openStream(t, req) // holds the slot
	second := make(chan error, 1)
	go func() { _, err := s.client.ModelInfer(t.Context(), req); second <- err }()
	select {
	case err := <-second:
		t.Fatalf("a second call ran while the stream held the connection's one slot: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("stream end: %v", err)
	}
	if err := <-second; err != nil {
		t.Errorf("the second call, once the stream ended: %v", err)
	}
}

// TestGracefulStop pins the shutdown: a call in flight when it starts (a
// stream) is still served to its end, and then new calls are refused.
func TestGracefulStop(t *testing.T) {
	s := start(t, servertest.Path("models"), options{})
	req := &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{irisInput([]int64{1, 4}, setosa...)}}
	stream := s.openStream(t, req)
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	time.Sleep(100 * time.Millisecond) // the stop has begun
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned with a stream still open: %v", err)
	default:
	}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || r.ErrorMessage != "" {
		t.Errorf("a request on the stream in flight during the stop: %v, %v", r, err)
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("stream end: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	_, err := s.client.ServerLive(t.Context(), &pb.ServerLiveRequest{})
	if code, _ := codeOf(err); code != codes.Unavailable {
		t.Errorf("a call after the stop: %v, want UNAVAILABLE", err)
	}
}

// TestDeadlineAnswered pins that a call whose deadline passes while the
// model runs gets its DEADLINE_EXCEEDED from the server, before grpc-go's
// transport resets the stream at that same deadline (answerInTime). The
// client is plain HTTP/2 with no deadline of its own, so it shows what the
// server sent: a status, or the reset that carries none, which a client
// whose own timer is late reports as CANCELLED. A batch of 1000 rows runs
// each of the model's MatMuls in under a millisecond here, well inside a
// 50 ms deadline's 5 ms margin, and all 256 of them far past it. Without
// the margin every call here was reset.
func TestDeadlineAnswered(t *testing.T) {
	s := slowServer(t, "", 0)
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, _, _ string, _ *tls.Config) (net.Conn, error) {
		return s.dial(ctx)
	}}
	defer tr.CloseIdleConnections()
	msg, err := proto.Marshal(slowRequest(1000))
	if err != nil {
		t.Fatal(err)
	}
	frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg))) // uncompressed, then the length
	for i := range 3 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://bufconn"+pb.GRPCInferenceService_ModelInfer_FullMethodName,
			bytes.NewReader(append(frame, msg...)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("TE", "trailers")
		req.Header.Set("Grpc-Timeout", "50m")
		begin := time.Now()
		res, err := tr.RoundTrip(req)
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		if err != nil {
			t.Fatalf("call %d: %v after %v: the stream was reset, with no status", i, err, time.Since(begin))
		}
		code := res.Header.Get("Grpc-Status") // a trailers-only answer
		if code == "" {
			code = res.Trailer.Get("Grpc-Status")
		}
		if code != strconv.Itoa(int(codes.DeadlineExceeded)) {
			t.Errorf("call %d: grpc-status %q (%s) after %v, want %d (DEADLINE_EXCEEDED)", i, code,
				res.Header.Get("Grpc-Message")+res.Trailer.Get("Grpc-Message"), time.Since(begin), codes.DeadlineExceeded)
		}
	}
	s.ready(t, "the cut calls")
}
