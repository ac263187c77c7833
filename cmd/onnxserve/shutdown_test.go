package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
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

// TestShutdownUnderLoad pins that a SIGTERM in the middle of load loses no
// request, over the real binary: 32 clients on kept-alive connections
// predict in a loop, SIGTERM comes once a few hundred are answered, and
// each client goes on until the listener refuses it. Every request the
// server took (one access line each) was answered, every answer is right,
// and no request fails on a connection the client reused, that is one the
// server never said Connection: close on (the Transport reuses no other).
// A request that fails on a connection new to it never reached a handler:
// the listener closed with it in its backlog, and the client is free to
// try another replica.
func TestShutdownUnderLoad(t *testing.T) {
	const (
		clients   = 32
		perClient = 3000 // bounds the test if the server never stops
		sigAfter  = 500
	)
	p := startProcess(t, "--shutdown-delay", "1s", "--log-format", "json")
	url := "http://" + p.addr + "/v1/models/iris/predict"
	tr := &http.Transport{MaxConnsPerHost: clients, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 30 * time.Second, Transport: tr}

	var (
		answered, closing, fresh atomic.Int64
		mu                       sync.Mutex
		failures                 []string
		signalled                sync.Once
		wg                       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perClient {
				var reused, got bool
				ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
					got, reused = true, i.Reused
				}})
				req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(irisSetosa))
				res, err := c.Do(req)
				if err != nil {
					switch {
					case reused:
						fail("reset on a connection the server kept: %v", err)
					case got:
						fresh.Add(1) // reset in the listener's backlog
					}
					return // the listener is closed
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"label":"setosa"`) {
					fail("answer %d %s %v", res.StatusCode, body, err)
					return
				}
				if res.Close {
					closing.Add(1)
				}
				if answered.Add(1) == sigAfter {
					signalled.Do(func() { p.terminate(t) })
				}
			}
		}()
	}
	wg.Wait()
	p.exited(t)
	for _, f := range failures {
		t.Error(f)
	}
	served := 0
	for line := range strings.SplitSeq(p.log.String(), "\n") {
		var l struct{ Msg, Route, Status string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" && l.Route == "POST /v1/models/:name/predict" {
			served++
		}
	}
	if int64(served) != answered.Load() {
		t.Errorf("the server took %d requests and the clients got %d answers", served, answered.Load())
	}
	if answered.Load() <= sigAfter || closing.Load() == 0 {
		t.Errorf("%d answers, %d with Connection: close: SIGTERM never came in the middle of the load", answered.Load(), closing.Load())
	}
	t.Logf("%d answers, %d of them with Connection: close; %d requests refused in the backlog", answered.Load(), closing.Load(), fresh.Load())
}

// TestShutdownSlowUpload pins that a slow upload cannot hold the exit past
// --shutdown-grace, which bounds the time to read a request: one whose
// body is still arriving when SIGTERM comes is answered 408 (JSON, logged
// below ERROR: the client's fault) once that time passes, within the
// grace, so every request taken was answered and the process exits 0. On
// v1 and v2 alike.
func TestShutdownSlowUpload(t *testing.T) {
	p := startProcess(t, "--shutdown-grace", "2s", "--log-format", "json")
	type upload struct {
		conn net.Conn
		res  chan string
	}
	var ups []upload
	for _, path := range []string{"/v1/models/iris/predict", "/v2/models/iris/infer"} {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// A bound on the wait, not a speed check.
		conn.SetDeadline(time.Now().Add(time.Minute))
		if _, err := conn.Write([]byte("POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n{\"inputs\"")); err != nil {
			t.Fatal(err)
		}
		u := upload{conn, make(chan string, 1)}
		go func() {
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				u.res <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			u.res <- fmt.Sprintf("%d %s", res.StatusCode, b)
		}()
		ups = append(ups, u)
	}
	// Both requests are in their handlers, reading their bodies, once the
	// budget holds both declared bodies: a connection whose request the
	// server has not yet read when it shuts down is closed unanswered,
	// which is net/http's, not what this test is about.
	c := &http.Client{Timeout: 30 * time.Second}
	for try := 0; !strings.Contains(exchange(t, c, "GET", "http://"+p.addr+"/metrics", "").body, "\nonnxserve_inflight_bytes 2000\n"); try++ {
		if try == 300 { // 30 s
			t.Fatal("the two uploads never held their bodies' 2000 bytes (onnxserve_inflight_bytes)")
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.terminate(t)
	p.exited(t)
	for i, u := range ups {
		if got, want := <-u.res, `408 {"error":"the request body did not arrive in time"}`; got != want {
			t.Errorf("upload %d: %s, want %s", i, got, want)
		}
	}
	if strings.Contains(p.log.String(), `"level":"ERROR"`) {
		t.Errorf("a slow upload logged at ERROR:\n%s", p.log.String())
	}
}
