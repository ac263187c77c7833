package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
)

// TestInspect pins the inspect subcommand's report of a model's signature
// and metadata.
// TestMain sets gin's mode as main does: run, which the tests call, does not.
func TestMain(m *testing.M) {
	runAsProcess()
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

func TestInspect(t *testing.T) {
	t.Chdir("../..")
	var out bytes.Buffer
	if err := run([]string{"inspect", "models/iris/1/model.onnx"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"producer: onnxserve-export", "input  X", "float32  [-1, 4]", "output label", "int64    [-1]", "output probabilities"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run([]string{"inspect", "models/nope.onnx"}, &out, io.Discard); err == nil || !strings.Contains(err.Error(), "nope.onnx") {
		t.Errorf("inspect of a missing file: %v", err)
	}
}

// TestServeFlagsFromEnv pins that every flag can come from ONNXSERVE_*,
// and that an explicit flag wins over the environment.
func TestServeFlagsFromEnv(t *testing.T) {
	t.Setenv("ONNXSERVE_ADDR", "127.0.0.1:9999")
	t.Setenv("ONNXSERVE_MAX_BODY_BYTES", "1234")
	t.Setenv("ONNXSERVE_SKIP_BAD_MODELS", "true")
	f, err := parseServeFlags([]string{"--addr", "127.0.0.1:7777"})
	if err != nil {
		t.Fatal(err)
	}
	if f.addr != "127.0.0.1:7777" || f.maxBody != 1234 || !f.skipBad {
		t.Errorf("flags %+v", f)
	}
	t.Setenv("ONNXSERVE_MODEL_CONTROL", "poll")
	t.Setenv("ONNXSERVE_REPOSITORY_POLL_SECS", "3")
	if f, err := parseServeFlags(nil); err != nil || f.modelControl != "poll" || f.pollSecs != 3 {
		t.Errorf("model control from env: %+v %v", f, err)
	}
	t.Setenv("ONNXSERVE_REQUEST_TIMEOUT", "2s")
	if f, err := parseServeFlags(nil); err != nil || f.timeout != 2*time.Second {
		t.Errorf("request timeout from env: %+v %v", f, err)
	}
	for _, bad := range [][]string{{"--request-timeout", "-1s"}, {"--request-timeout", "250"}, {"--model-control", "sometimes"}, {"--repository-poll-secs", "0"}, {"--grpc-max-streams", "0"}, {"--max-body-bytes", "0"}, {"--max-body-bytes", "4294967296"}, {"--shutdown-delay", "-1s"}, {"--shutdown-grace", "0s"}} {
		if _, err := parseServeFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	t.Setenv("ONNXSERVE_MAX_BODY_BYTES", "lots")
	if _, err := parseServeFlags(nil); err == nil || !strings.Contains(err.Error(), "ONNXSERVE_MAX_BODY_BYTES") {
		t.Errorf("bad env value: %v", err)
	}
}

// TestTrustedProxies pins how --trusted-proxies reads: IPs become
// single-address prefixes, CIDRs are masked, blanks are skipped, and
// anything else is refused with the flag's name.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the prefixes, space-separated; "error" for a refusal
	}{
		{"", ""},
		{"10.0.0.1", "10.0.0.1/32"},
		{" 10.0.0.0/8 , ,192.168.1.7", "10.0.0.0/8 192.168.1.7/32"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"fd00::1,2001:db8::/32", "fd00::1/128 2001:db8::/32"},
		{"10.0.0.0/33", "error"},
		{"proxy.local", "error"},
		{"10.0.0.1:8080", "error"},
	} {
		f, err := parseServeFlags([]string{"--trusted-proxies", tc.in})
		var got []string
		if err != nil {
			got = []string{"error"}
			if !strings.Contains(err.Error(), "--trusted-proxies") {
				t.Errorf("%q: error %q does not name the flag", tc.in, err)
			}
		} else {
			for _, p := range f.proxies {
				got = append(got, p.String())
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("--trusted-proxies %q = %v, want %s", tc.in, got, tc.want)
		}
	}
}

// serving runs the real binary's serve path on the shipped models with
// args added, until it is ready; stop SIGTERMs the process and expects
// serve to drain and return cleanly (sessions and the ORT environment
// destroyed). The readiness probe keeps no connection, so that it holds
// no slot of --max-connections.
func serving(t *testing.T, args ...string) (addr string, stop func()) {
	t.Helper()
	return servingWith(t, "http", "/readyz", nil, args...)
}

// servingUntil is serving, waiting for probe to answer 200 instead of
// /readyz: /healthz for a server that is up but not ready.
func servingUntil(t *testing.T, probePath string, args ...string) (addr string, stop func()) {
	t.Helper()
	return servingWith(t, "http", probePath, nil, args...)
}

// servingWith is serving with the probe sent by scheme over transport
// (nil: one without keep-alives), as a server with TLS needs.
func servingWith(t *testing.T, scheme, probePath string, transport *http.Transport, args ...string) (addr string, stop func()) {
	if transport == nil {
		transport = &http.Transport{DisableKeepAlives: true}
	}
	t.Helper()
	t.Chdir("../..")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	done := make(chan error, 1)
	go func() {
		args := append([]string{"serve", "--addr", addr, "--grpc-addr", "", "--models", "models"}, args...)
		done <- run(args, io.Discard, io.Discard)
	}()
	probe := &http.Client{Timeout: time.Second, Transport: transport}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := probe.Get(scheme + "://" + addr + probePath)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("server never became ready")
		}
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve after SIGTERM: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not return after SIGTERM")
			}
		})
	}
	// A test that fails before it stops the server still stops it: the
	// test binary's TestMain then tears ONNX Runtime down under no run.
	t.Cleanup(stop)
	return addr, stop
}

// TestServeAndShutdown answers a prediction over the real serve path and
// shuts down cleanly on SIGTERM.
func TestServeAndShutdown(t *testing.T) {
	addr, stop := serving(t)
	res, err := http.Post("http://"+addr+"/v1/models/iris/predict", "application/json",
		strings.NewReader(`{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"label":"setosa"`) {
		t.Fatalf("predict: %s", body)
	}
	// Headers past --max-header-bytes (64 KiB by default) are refused:
	// they could otherwise hold memory for nothing.
	req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 100<<10))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB of headers: %v %v, want 431", res, err)
	} else {
		res.Body.Close()
	}
	stop()
}

// TestServeGRPC answers over gRPC on --grpc-addr beside HTTP, from the
// same core, and both drain on SIGTERM.
func TestServeGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr := ln.Addr().String()
	ln.Close()
	_, stop := serving(t, "--grpc-addr", grpcAddr)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := pb.NewGRPCInferenceServiceClient(conn).ModelInfer(t.Context(), &pb.ModelInferRequest{ModelName: "iris",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "X", Datatype: "FP32", Shape: []int64{1, 4},
			Contents: &pb.InferTensorContents{Fp32Contents: []float32{5.1, 3.5, 1.4, 0.2}}}}})
	if err != nil || len(resp.RawOutputContents) != 2 || !bytes.Equal(resp.RawOutputContents[0], make([]byte, 8)) {
		t.Fatalf("ModelInfer: %v, %v; want label 0 (setosa)", resp, err)
	}
	if r, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v, %v", r, err)
	}
	stop()
}

// TestServeRequestTimeout pins that --request-timeout reaches the core on
// the real serve path: a run of the slow test model (256 chained MatMuls,
// seconds for 8192 rows) is cut at 200 ms and answered 504 naming the
// server's timeout, and a request that fits in it is answered as ever.
func TestServeRequestTimeout(t *testing.T) {
	model, err := os.ReadFile("../../runtime/testdata/slow.onnx")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/slow", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/slow/model.onnx", model, 0o644); err != nil {
		t.Fatal(err)
	}
	addr, stop := serving(t, "--models", dir, "--request-timeout", "200ms", "--max-body-bytes", "16777216")
	for _, tc := range []struct {
		rows   int
		status int
		body   string
	}{
		{8192, http.StatusGatewayTimeout, `{"error":"request deadline exceeded before the model answered: the server's request timeout (200ms) passed"}`},
		{1, http.StatusOK, `"shape":[1,256]`},
	} {
		header := fmt.Sprintf(`{"inputs":[{"name":"x","datatype":"FP32","shape":[%d,256],"parameters":{"binary_data_size":%d}}]}`, tc.rows, tc.rows*256*4)
		req, _ := http.NewRequest("POST", "http://"+addr+"/v2/models/slow/infer", io.MultiReader(strings.NewReader(header), bytes.NewReader(make([]byte, tc.rows*256*4))))
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(header)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
			t.Errorf("%d rows: %d %s, want %d with %s", tc.rows, res.StatusCode, body, tc.status, tc.body)
		}
	}
	stop()
}

// TestMaxConnections pins that --max-connections bounds the connections
// served at once: with one held open, another is not served until it
// closes.
func TestMaxConnections(t *testing.T) {
	addr, stop := serving(t, "--max-connections", "1")
	client := func(timeout time.Duration) *http.Client {
		return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	}
	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// The held connection has the one slot once a request on it is served.
	held.Write([]byte("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"))
	if _, err := http.ReadResponse(bufio.NewReader(held), nil); err != nil {
		t.Fatal(err)
	}
	if res, err := client(500 * time.Millisecond).Get("http://" + addr + "/healthz"); err == nil {
		res.Body.Close()
		t.Error("a second connection was served while the only slot was held")
	}
	held.Close()
	if res, err := client(10 * time.Second).Get("http://" + addr + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Errorf("after the held connection closed: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	stop()
}

// TestWrongLibraryFailsFast runs the binary's main in a subprocess with a
// library that is not ONNX Runtime: it must exit non-zero with a message
// naming the library, not crash.
func TestWrongLibraryFailsFast(t *testing.T) {
	if os.Getenv("ONNXSERVE_TEST_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{os.Args[0]}, os.Args[i+1:]...)
				break
			}
		}
		os.Chdir("../..")
		main()
		return
	}
	for _, lib := range []string{"/nonexistent/libonnxruntime.so", "/lib/x86_64-linux-gnu/libm.so.6"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWrongLibraryFailsFast$")
		cmd.Args = append(cmd.Args, "--", "inspect", "models/iris/1/model.onnx")
		cmd.Env = append(os.Environ(), "ONNXSERVE_TEST_MAIN=1", "ORT_LIB="+lib)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), lib) {
			t.Errorf("ORT_LIB=%s: %v: %s", lib, err, out)
		}
	}
}

// TestAddressInUseBeforeLoads pins that serve binds its addresses before
// any model loads: an address already in use is reported at once, naming
// the flag, not after every model of the repository has loaded.
func TestAddressInUseBeforeLoads(t *testing.T) {
	t.Chdir("../..")
	for _, flagName := range []string{"--addr", "--grpc-addr", "--metrics-addr"} {
		t.Run(flagName, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			args := []string{"serve", "--models", "models", "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", flagName, taken.Addr().String()}
			var log strings.Builder
			err = run(args, io.Discard, &log)
			if err == nil || !strings.Contains(err.Error(), flagName+":") || !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("serve with %s taken: %v, want an error naming the flag and the address in use", flagName, err)
			}
			if strings.Contains(log.String(), "model loaded") {
				t.Errorf("models loaded before the address was found taken:\n%s", log.String())
			}
		})
	}
}
