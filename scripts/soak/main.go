// Command soak is the load of scripts/soak.sh: it starts the onnxserve
// binary on loopback over a repository it makes (models/ and the sum test
// model), and against it runs
//
//   - -requests mixed good and bad requests (REST /v1 and /v2 JSON and
//     binary, gRPC) from -concurrency callers at once, with -reloads
//     reloads of iris (its config.yaml changed, then loaded) spread over
//     them: every answer must be the status its request calls for, and no
//     good request may get a 5xx;
//   - issue 13's attacks: 200 connections that declare a 32 MiB body and
//     send none (the server must not grow by 50 MB), and 64 parallel 32
//     MiB bodies (its memory must stay under --max-inflight-bytes and a
//     tenth; refused ones are sent again after their Retry-After).
//
// It prints the server's RSS (start, after the warm-up, after the load,
// the peaks of the attacks), its goroutines and the error counts, and
// exits non-zero when a target is missed: RSS after the warm-up grows by
// 10% or more, a good request got a 5xx, an answer was not the one its
// request calls for, an attack passed its bound, or the server stopped
// being ready.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
)

func main() {
	bin := flag.String("bin", "bin/onnxserve", "the onnxserve binary")
	root := flag.String("root", ".", "the repository's root (models/, runtime/testdata/)")
	requests := flag.Int("requests", 1_000_000, "mixed requests of the load")
	reloads := flag.Int("reloads", 100, "reloads of iris during the load")
	concurrency := flag.Int("concurrency", 64, "callers at once")
	budget := flag.Int64("budget", 512<<20, "the server's --max-inflight-bytes")
	flag.Parse()
	s := &soak{requests: *requests, reloads: *reloads, concurrency: *concurrency, budget: *budget}
	missed, err := s.run(*bin, *root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if len(missed) > 0 {
		for _, m := range missed {
			fmt.Println("MISSED", m)
		}
		os.Exit(1)
	}
	fmt.Println("PASS every target met")
}

type soak struct {
	requests, reloads, concurrency int
	budget                         int64
	pid                            int
	web, grpcAddr                  string
	repo                           string
	http                           *http.Client
	rpc                            pb.GRPCInferenceServiceClient
	missed                         []string
}

func (s *soak) miss(format string, args ...any) {
	s.missed = append(s.missed, fmt.Sprintf(format, args...))
}

func (s *soak) run(bin, root string) ([]string, error) {
	dir, err := os.MkdirTemp("", "soak-repo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s.repo = dir
	if err := exec.Command("cp", "-r", filepath.Join(root, "models")+"/.", dir).Run(); err != nil {
		return nil, fmt.Errorf("copy models/: %w", err)
	}
	os.MkdirAll(filepath.Join(dir, "sum"), 0o755)
	if err := exec.Command("cp", filepath.Join(root, "runtime/testdata/sum.onnx"), filepath.Join(dir, "sum", "model.onnx")).Run(); err != nil {
		return nil, fmt.Errorf("copy the sum model: %w", err)
	}
	stop, err := s.start(bin)
	if err != nil {
		return nil, err
	}
	defer stop()

	start := s.rss()
	gStart := s.goroutines()
	fmt.Printf("start: rss=%.1f MB goroutines=%d budget=%d MiB\n", mb(start), gStart, s.budget>>20)
	warm := max(s.requests/20, 2000)
	s.load(warm, 0)
	afterWarm := s.rss()
	fmt.Printf("after warm-up (%d requests): rss=%.1f MB\n", warm, mb(afterWarm))
	began := time.Now()
	c := s.load(s.requests, s.reloads)
	elapsed := time.Since(began)
	afterLoad := s.rss()
	gLoad := s.goroutines()
	fmt.Printf("load: %d requests in %.1fs (%.0f/s), %d reloads: good=%d bad=%d good_5xx=%d wrong=%d transport_errors=%d reload_failures=%d\n",
		c.total(), elapsed.Seconds(), float64(c.total())/elapsed.Seconds(), c.reloads.Load(), c.good.Load(), c.bad.Load(), c.good5xx.Load(), c.wrong.Load(), c.transport.Load(), c.reloadFailed.Load())
	for _, w := range c.samples() {
		fmt.Println("  wrong:", w)
	}
	growth := float64(afterLoad-afterWarm) / float64(afterWarm)
	fmt.Printf("after load: rss=%.1f MB (%+.1f%% since the warm-up) goroutines=%d\n", mb(afterLoad), 100*growth, gLoad)
	if growth >= 0.10 {
		s.miss("RSS grew %.1f%% after the warm-up (target < 10%%)", 100*growth)
	}
	if c.good5xx.Load() > 0 {
		s.miss("%d good requests got a 5xx (target 0)", c.good5xx.Load())
	}
	if c.wrong.Load()+c.transport.Load() > 0 {
		s.miss("%d answers were not what their request calls for, %d requests failed in transport (target 0)", c.wrong.Load(), c.transport.Load())
	}
	if c.reloadFailed.Load() > 0 {
		s.miss("%d reloads failed", c.reloadFailed.Load())
	}

	s.headerOnly(200)
	s.bigBodies(64, 32<<20)

	end := s.rss()
	gEnd := s.goroutines()
	fmt.Printf("end: rss=%.1f MB goroutines=%d\n", mb(end), gEnd)
	if st := s.get("/readyz"); st != http.StatusOK {
		s.miss("/readyz is %d at the end", st)
	}
	return s.missed, nil
}

// start runs the server and waits for it to be ready.
func (s *soak) start(bin string) (stop func(), err error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--models", s.repo,
		"--model-control", "explicit", "--load-model", "*", "--access-log=false", "--log-format", "text",
		"--max-body-bytes", strconv.Itoa(33<<20), "--max-inflight-bytes", strconv.FormatInt(s.budget, 10))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = cmd.Process.Pid
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	found := make(chan [2]string, 1)
	go func() {
		addr := regexp.MustCompile(`msg=serving addr=(\S+) grpc_addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := addr.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[1], m[2]}
			}
			if strings.Contains(sc.Text(), "level=ERROR") {
				fmt.Println("server:", sc.Text())
			}
		}
	}()
	select {
	case a := <-found:
		s.web, s.grpcAddr = "http://"+a[0], a[1]
	case <-time.After(60 * time.Second):
		stop()
		return nil, fmt.Errorf("the server did not start serving within a minute")
	}
	s.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * s.concurrency, MaxConnsPerHost: 2 * s.concurrency}, Timeout: 2 * time.Minute}
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		stop()
		return nil, err
	}
	s.rpc = pb.NewGRPCInferenceServiceClient(conn)
	server := stop
	return func() { conn.Close(); server() }, nil
}

// A request of the mix: REST (path, body, binary header length) or gRPC
// (msg), and the status it must get; good ones must succeed.
type request struct {
	name   string
	path   string
	body   []byte
	hlen   int // Inference-Header-Content-Length, -1 for none
	msg    *pb.ModelInferRequest
	status int        // REST
	code   codes.Code // gRPC
	good   bool
}

func f32(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func mix() []request {
	sumHead := `{"inputs":[{"name":"x","shape":[1,1000],"datatype":"FP32","parameters":{"binary_data_size":4000}}]}`
	iris := func(dt string, v ...float32) *pb.ModelInferRequest {
		return &pb.ModelInferRequest{ModelName: "iris", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "X", Datatype: dt, Shape: []int64{1, 4}}}, RawInputContents: [][]byte{f32(v...)}}
	}
	return []request{
		{name: "v1 named", path: "/v1/models/iris/predict", body: []byte(`{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`), hlen: -1, status: 200, good: true},
		{name: "v1 instances", path: "/v1/models/iris/predict", body: []byte(`{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}`), hlen: -1, status: 200, good: true},
		{name: "v2 JSON", path: "/v2/models/iris/infer", body: []byte(`{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`), hlen: -1, status: 200, good: true},
		{name: "v2 binary", path: "/v2/models/sum/infer", body: append([]byte(sumHead), bytes.Repeat(f32(0.5), 1000)...), hlen: len(sumHead), status: 200, good: true},
		{name: "gRPC raw", msg: iris("FP32", 5.1, 3.5, 1.4, 0.2), code: codes.OK, good: true},
		{name: "v1 malformed", path: "/v1/models/iris/predict", body: []byte(`{"sepal_length": `), hlen: -1, status: 400},
		{name: "v1 wrong type", path: "/v1/models/iris/predict", body: []byte(`{"sepal_length": "wide", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`), hlen: -1, status: 422},
		{name: "v2 unknown model", path: "/v2/models/nope/infer", body: []byte(`{"inputs": []}`), hlen: -1, status: 404},
		{name: "v2 wrong shape", path: "/v2/models/iris/infer", body: []byte(`{"inputs": [{"name": "X", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}`), hlen: -1, status: 400},
		{name: "v2 invalid UTF-8", path: "/v2/models/iris/infer", body: []byte("{\"id\": \"\xff\", \"inputs\": [{\"name\": \"X\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}]}"), hlen: -1, status: 400},
		{name: "v2 binary short", path: "/v2/models/sum/infer", body: append([]byte(sumHead), f32(1, 2)...), hlen: len(sumHead), status: 400},
		{name: "gRPC unknown model", msg: &pb.ModelInferRequest{ModelName: "nope"}, code: codes.NotFound},
		{name: "gRPC wrong datatype", msg: iris("FP64", 1, 2, 3, 4), code: codes.InvalidArgument},
	}
}

// counts are the outcomes of a load.
type counts struct {
	good, bad, good5xx, wrong, transport, reloads, reloadFailed atomic.Int64
	mu                                                          sync.Mutex
	wrongs                                                      []string
}

func (c *counts) total() int64 { return c.good.Load() + c.bad.Load() }

func (c *counts) note(what string) {
	c.mu.Lock()
	if len(c.wrongs) < 10 {
		c.wrongs = append(c.wrongs, what)
	}
	c.mu.Unlock()
}

func (c *counts) samples() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrongs
}

// load sends n requests of the mix from s.concurrency callers, with
// reloads of iris spread evenly over them.
func (s *soak) load(n, reloads int) *counts {
	c := &counts{}
	reqs := mix()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range s.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				s.send(&reqs[i%int64(len(reqs))], c)
			}
		}()
	}
	if reloads > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range reloads {
				for next.Load() < int64(n)*int64(k+1)/int64(reloads+1) {
					time.Sleep(5 * time.Millisecond)
				}
				s.reload(k, c)
			}
		}()
	}
	wg.Wait()
	return c
}

func (s *soak) send(r *request, c *counts) {
	if r.good {
		c.good.Add(1)
	} else {
		c.bad.Add(1)
	}
	if r.msg != nil {
		_, err := s.rpc.ModelInfer(context.Background(), r.msg)
		code := status.Code(err)
		if code != r.code {
			c.wrong.Add(1)
			c.note(fmt.Sprintf("%s: %v, want %v", r.name, err, r.code))
			if r.good && (code == codes.Internal || code == codes.Unavailable || code == codes.ResourceExhausted) {
				c.good5xx.Add(1)
			}
		}
		return
	}
	req, _ := http.NewRequest("POST", s.web+r.path, bytes.NewReader(r.body))
	if r.hlen >= 0 {
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(r.hlen))
	}
	res, err := s.http.Do(req)
	if err != nil {
		c.transport.Add(1)
		c.note(fmt.Sprintf("%s: %v", r.name, err))
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != r.status {
		c.wrong.Add(1)
		c.note(fmt.Sprintf("%s: %d, want %d", r.name, res.StatusCode, r.status))
		if r.good && res.StatusCode >= 500 {
			c.good5xx.Add(1)
		}
	}
}

// reload changes iris's config.yaml (its description) and loads it: the
// new version is swapped in while requests run on the old.
func (s *soak) reload(k int, c *counts) {
	path := filepath.Join(s.repo, "iris", "config.yaml")
	cfg, err := os.ReadFile(path)
	if err == nil {
		lines := strings.SplitN(string(cfg), "\n", 2)
		err = os.WriteFile(path, []byte(fmt.Sprintf("description: iris, soak reload %d\n%s", k, lines[1])), 0o644)
	}
	if err != nil {
		c.reloadFailed.Add(1)
		c.note(fmt.Sprintf("reload %d: %v", k, err))
		return
	}
	res, err := s.http.Post(s.web+"/v2/repository/models/iris/load", "application/json", nil)
	c.reloads.Add(1)
	if err != nil || res.StatusCode != http.StatusOK {
		c.reloadFailed.Add(1)
		c.note(fmt.Sprintf("reload %d: %v %v", k, res, err))
	}
	if res != nil {
		res.Body.Close()
	}
}

// headerOnly opens n connections that each declare a 32 MiB body and send
// none of it, and measures what the server grew by while they are open.
func (s *soak) headerOnly(n int) {
	before := s.rss()
	addr := strings.TrimPrefix(s.web, "http://")
	conns := make([]net.Conn, 0, n)
	refused := 0
	for range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			s.miss("header-only connection: %v", err)
			break
		}
		fmt.Fprintf(conn, "POST /v2/models/sum/infer HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n", 32<<20)
		conns = append(conns, conn)
	}
	// Each one the budget holds waits for its body; each one it cannot
	// hold is answered 503 at once. Give the server a moment to do either.
	time.Sleep(2 * time.Second)
	peak := s.rss()
	for _, conn := range conns {
		conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil && res.StatusCode == http.StatusServiceUnavailable {
			refused++
		}
		conn.Close()
	}
	grew := peak - before
	fmt.Printf("attack: %d header-only connections of 32 MiB: rss %.1f → %.1f MB (%+.1f MB); %d answered 503 at once, %d held by the budget\n",
		len(conns), mb(before), mb(peak), mb(grew), refused, len(conns)-refused)
	if grew >= 50<<20 {
		s.miss("%d header-only connections added %.1f MB (target < 50 MB)", len(conns), mb(grew))
	}
}

// bigBodies sends n bodies of size bytes at once to the sum model (v2
// binary), each sent again after its Retry-After while the budget refuses
// it, and samples the server's RSS throughout.
func (s *soak) bigBodies(n, size int) {
	time.Sleep(time.Second) // the header-only connections' handlers end
	before := s.rss()
	elems := size / 4
	head := fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1,%d],"datatype":"FP32","parameters":{"binary_data_size":%d}}]}`, elems, 4*elems)
	body := append([]byte(head), bytes.Repeat(f32(1), elems)...)
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			peak.Store(max(peak.Load(), s.rss()))
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var ok, refusals, failed atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 0; try < 60; try++ {
				req, _ := http.NewRequest("POST", s.web+"/v2/models/sum/infer", bytes.NewReader(body))
				req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(head)))
				res, err := s.http.Do(req)
				if err != nil {
					// The server answered 503 before the body was sent
					// and closed the connection under the upload.
					refusals.Add(1)
					time.Sleep(time.Second)
					continue
				}
				answer, _ := io.ReadAll(res.Body)
				res.Body.Close()
				switch {
				case res.StatusCode == http.StatusOK && sumOf(answer) == float64(elems):
					ok.Add(1)
					return
				case res.StatusCode == http.StatusServiceUnavailable:
					refusals.Add(1)
					wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
					time.Sleep(time.Duration(max(wait, 1)) * time.Second)
				default:
					failed.Add(1)
					fmt.Printf("  big body: %d %.200s\n", res.StatusCode, answer)
					return
				}
			}
			failed.Add(1)
		}()
	}
	wg.Wait()
	close(done)
	grew := peak.Load() - before
	bound := s.budget + s.budget/10
	fmt.Printf("attack: %d parallel bodies of %d MiB: rss %.1f → peak %.1f MB (%+.1f MB, bound %.1f MB); %d answered with their sum, %d refusals retried, %d failed\n",
		n, size>>20, mb(before), mb(peak.Load()), mb(grew), mb(bound), ok.Load(), refusals.Load(), failed.Load())
	if grew > bound {
		s.miss("%d parallel %d MiB bodies grew RSS by %.1f MB, past the budget and a tenth (%.1f MB)", n, size>>20, mb(grew), mb(bound))
	}
	if ok.Load() != int64(n) {
		s.miss("%d of %d big bodies answered with their sum", ok.Load(), n)
	}
}

// rss is the server's resident set, in bytes.
func (s *soak) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// goroutines is the server's go_goroutines, from /metrics.
func (s *soak) goroutines() int {
	res, err := s.http.Get(s.web + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(rest, 64)
			return int(n)
		}
	}
	return -1
}

func (s *soak) get(path string) int {
	res, err := s.http.Get(s.web + path)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// sumOf is the one number of a v2 answer of the sum model, NaN if none.
func sumOf(answer []byte) float64 {
	m := regexp.MustCompile(`"data":\[([^\]]+)\]`).FindSubmatch(answer)
	if m == nil {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
