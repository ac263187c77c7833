// Package servertest is the test support of the HTTP API: ONNX Runtime for
// a test binary, the one builder of a test server over a real loopback
// listener, and the model fixtures the tests share. Tests use the real
// ONNX Runtime and the shipped models, never stand-ins.
package servertest

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/onnxserve/onnxserve/handlers"
	"github.com/onnxserve/onnxserve/handlers/inference"
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
	// Logger is the server's; nil is Quiet.
	Logger *slog.Logger
}

// Open opens the repository dir as the server would, closed at cleanup.
func Open(t testing.TB, dir string, opt Options) *runtime.Repository {
	t.Helper()
	if opt.Limiter == nil {
		opt.Limiter = runtime.NewLimiter(0)
	}
	lo := runtime.LoadOptions{Limiter: opt.Limiter, Logger: Quiet}
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
	core := inference.New(inference.Options{Repository: repo, ModelControl: opt.Control, Logger: opt.Logger})
	return handlers.New(handlers.Options{Core: core, MaxBodyBytes: opt.MaxBodyBytes, Logger: opt.Logger})
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
