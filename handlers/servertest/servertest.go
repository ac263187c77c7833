// Package servertest is the test support of the HTTP API: ONNX Runtime for
// a test binary, the one builder of a test server over a real loopback
// listener, and the model fixtures the tests share. Tests use the real
// ONNX Runtime and the shipped models, never stand-ins.
package servertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers"
	"github.com/onnxserve/onnxserve/handlers/accesslog"
	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/cors"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/runtime"
)

// Quiet is the logger of test servers: their logs are not the test's output.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Main runs a test binary's tests with ONNX Runtime loaded from the
// repository's cache (scripts/setup-ort.sh), as TestMain.
func Main(m *testing.M) {
	gin.SetMode(gin.TestMode)
	lib, err := runtime.FindLibrary(Root())
	if err == nil {
		_, err = runtime.Init(lib)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	runtime.Shutdown()
	os.Exit(code)
}

// Root is the repository's root: the nearest directory above the test's
// own that holds go.mod.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			panic("servertest: no go.mod above " + dir)
		}
	}
}

// Path is a path below the repository's root, e.g. Path("models").
func Path(elem ...string) string { return filepath.Join(append([]string{Root()}, elem...)...) }

// Options configure a test server.
type Options struct {
	// Control is the model-control mode ("" is none).
	Control runtime.ModelControl
	// Load names the models loaded at start; nil loads every one.
	Load []string
	// SkipBad serves the models that load when others fail, as
	// --skip-bad-models does.
	SkipBad bool
	// Limiter bounds concurrent runs; nil is GOMAXPROCS.
	Limiter *runtime.Limiter
	// MaxBodyBytes is the body limit; 0 is 1 MiB.
	MaxBodyBytes int64
	// ConnState, when set, is the server's http.Server.ConnState hook.
	ConnState func(net.Conn, http.ConnState)
	// Metrics, when set, observes the runs, the requests and the HTTP
	// routes, and is served on /metrics.
	Metrics *metrics.Metrics
	// AccessLog writes one line per request to Logger.
	AccessLog bool
	// Logger is the server's; nil is Quiet.
	Logger *slog.Logger
	// Timeout bounds every inference request, as --request-timeout does.
	Timeout time.Duration
	// Keys, when enabled, are the API keys the routes need.
	Keys *auth.Keys
	// CORS, when set, lets browser pages of its origins call.
	CORS *cors.Policy
	// TrustedProxies are the peers whose forwarding headers name the
	// client, as --trusted-proxies says.
	TrustedProxies []netip.Prefix
	// MaxInflightBytes bounds what requests in flight hold, as
	// --max-inflight-bytes does; 0 is no bound.
	MaxInflightBytes int64
	// ExecutionProvider is what models run on unless their config.yaml
	// says, as --execution-provider; "" is CPU.
	ExecutionProvider runtime.Provider
}

// Open opens the repository dir as the server would, closed at cleanup.
func Open(t testing.TB, dir string, opt Options) *runtime.Repository {
	t.Helper()
	if opt.Limiter == nil {
		opt.Limiter = runtime.NewLimiter(0)
	}
	lo := runtime.LoadOptions{Limiter: opt.Limiter, Logger: Quiet, ExecutionProvider: opt.ExecutionProvider}
	if opt.Metrics != nil {
		lo.Observer = opt.Metrics
	}
	var repo *runtime.Repository
	var err error
	if opt.Load == nil {
		repo, err = runtime.OpenRepository(dir, lo, opt.SkipBad)
	} else if repo, err = runtime.NewRepository(dir, lo); err == nil {
		err = repo.LoadEach(opt.Load, false)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	return repo
}

// Handler is the whole API over repo, as cmd/onnxserve builds it.
func Handler(repo *runtime.Repository, opt Options) http.Handler {
	if opt.MaxBodyBytes == 0 {
		opt.MaxBodyBytes = 1 << 20
	}
	if opt.Logger == nil {
		opt.Logger = Quiet
	}
	return handlers.New(handlers.Options{Core: Core(repo, opt), MaxBodyBytes: opt.MaxBodyBytes, Metrics: opt.Metrics, AccessLog: opt.AccessLog, Logger: opt.Logger,
		Keys: opt.Keys, CORS: opt.CORS, TrustedProxies: opt.TrustedProxies})
}

// Core is the core over repo, as cmd/onnxserve builds it: observed by
// opt.Metrics when set.
func Core(repo *runtime.Repository, opt Options) *inference.Core {
	if opt.Logger == nil {
		opt.Logger = Quiet
	}
	copt := inference.Options{Repository: repo, ModelControl: opt.Control, Timeout: opt.Timeout, MaxInflightBytes: opt.MaxInflightBytes, Logger: opt.Logger}
	if opt.Metrics != nil {
		copt.Observer = opt.Metrics
	}
	core := inference.New(copt)
	if opt.Metrics != nil {
		opt.Metrics.Watch(core)
	}
	return core
}

// Serve serves repo over a real loopback listener, closed at cleanup.
func Serve(t testing.TB, repo *runtime.Repository, opt Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(Handler(repo, opt))
	srv.Config.ConnState = opt.ConnState
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// Start opens dir and serves it.
func Start(t testing.TB, dir string, opt Options) (*httptest.Server, *runtime.Repository) {
	t.Helper()
	repo := Open(t, dir, opt)
	return Serve(t, repo, opt), repo
}

// JSONLogger logs in JSON to w, as --log-format=json does: on accesslog's
// handler, so that the access lines tests read are the fast path's.
func JSONLogger(w io.Writer) *slog.Logger { return slog.New(accesslog.NewHandler(w, true, nil)) }

// LogLines are the JSON log lines in out whose msg is msg, decoded.
func LogLines(t testing.TB, out *bytes.Buffer, msg string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if m["msg"] == msg {
			lines = append(lines, m)
		}
	}
	return lines
}

// HoldRunSlot takes one of limiter's run slots, so that with a limiter of
// one nothing that needs a slot (a request, a warmup run) runs until
// release gives it back; cleanup gives it back if the test has not, before
// the server's cleanup, which may wait for what the slot holds up.
func HoldRunSlot(t testing.TB, limiter *runtime.Limiter) (release func()) {
	t.Helper()
	if err := limiter.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(limiter.Release) }
	t.Cleanup(release)
	return release
}

// SyncBuffer is a log the server writes while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor polls cond until it holds, failing the test after 10 s, for
// what has no event to wait on: a file watcher's next look, a log line
// written after the answer was sent.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// The API keys of Keys, one per scope.
const (
	InferKey   = "inf-0123456789"
	AdminKey   = "adm-0123456789"
	MetricsKey = "met-0123456789"
)

// Keys are the API keys the auth tests serve with: InferKey of scope
// infer, AdminKey admin, MetricsKey metrics.
func Keys(t testing.TB) *auth.Keys {
	t.Helper()
	keys, err := auth.New(auth.Options{Infer: []string{InferKey}, Admin: []string{AdminKey}, Entries: []string{MetricsKey + " metrics"}, Logger: Quiet})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Post sends body to url, with Inference-Header-Content-Length hlen when
// it is 0 or more, and chunked (no Content-Length) when chunked, and
// returns the status and the answer.
func Post(t testing.TB, url string, body []byte, hlen int, chunked bool) (int, string) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = struct{ io.Reader }{r} // an unknown length: net/http sends it chunked
	}
	req, err := http.NewRequest("POST", url, r)
	if err != nil {
		t.Fatal(err)
	}
	if hlen >= 0 {
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(hlen))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(answer)
}
