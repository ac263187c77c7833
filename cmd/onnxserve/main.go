// Command onnxserve serves a repository of ONNX models as REST APIs and
// the Open Inference Protocol over REST and gRPC.
//
//	onnxserve serve [--addr :8080] [--grpc-addr :8001] [--models ./models] ...
//	onnxserve inspect FILE.onnx
//
// Every serve flag can also be set from the environment as ONNXSERVE_<FLAG>,
// e.g. ONNXSERVE_ADDR=:9000 or ONNXSERVE_MAX_BODY_BYTES=1048576.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/net/netutil"

	"github.com/onnxserve/onnxserve/handlers"
	grpcfront "github.com/onnxserve/onnxserve/handlers/grpc"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/metrics"
	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

func main() {
	// gin's mode is process-wide: set once here, not by each router built.
	gin.SetMode(gin.ReleaseMode)
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		slog.New(slog.NewTextHandler(os.Stderr, nil)).Error(err.Error())
		os.Exit(1)
	}
}

// run runs one subcommand; serve logs to stderr in the format its flags
// say.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: onnxserve serve [flags] | onnxserve inspect FILE.onnx")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "inspect":
		return inspect(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q: want serve or inspect", args[0])
}

type serveFlags struct {
	addr          string
	metrics       bool
	metricsAddr   string
	buckets       []float64
	logFormat     string
	logLevel      slog.Level
	accessLog     bool
	grpcAddr      string
	grpcStreams   int
	models        string
	maxBody       int64
	maxHeader     int
	maxConns      int
	maxConcurrent int
	skipBad       bool
	shutdownGrace time.Duration
	timeout       time.Duration
	modelControl  runtime.ModelControl
	pollSecs      int
	loadModels    string
	auth          authFlags
}

func parseServeFlags(args []string) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.addr, "addr", ":8080", "listen address")
	// Triton's gRPC port.
	fs.StringVar(&f.grpcAddr, "grpc-addr", ":8001", "gRPC listen address (Open Inference Protocol, health, reflection); empty turns gRPC off")
	fs.IntVar(&f.grpcStreams, "grpc-max-streams", 100, "most gRPC calls in flight on one connection; more wait their turn")
	fs.StringVar(&f.models, "models", "./models", "model repository directory")
	fs.BoolVar(&f.metrics, "metrics", true, "serve Prometheus metrics on /metrics (and on --metrics-addr)")
	// Triton serves its metrics on :8002.
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "also serve /metrics on this address, e.g. :8002 (empty: only on --addr)")
	buckets := fs.String("metrics-buckets", "", "latency histogram buckets in seconds, comma-separated (default 0.0001,0.00025,...,10)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	level := fs.String("log-level", "info", "least severe level logged: debug, info, warn or error")
	fs.BoolVar(&f.accessLog, "access-log", true, "log one line per request (REST and gRPC) at info")
	fs.Int64Var(&f.maxBody, "max-body-bytes", 32<<20, "largest request body, and gRPC message either way, accepted (413 or RESOURCE_EXHAUSTED above)")
	// Go's default of 1 MiB lets a few hundred half-sent headers hold
	// hundreds of MB; real requests carry a few KiB.
	fs.IntVar(&f.maxHeader, "max-header-bytes", 64<<10, "largest request line and headers accepted (431 above)")
	fs.IntVar(&f.maxConns, "max-connections", 0, "most client connections served at once, idle keep-alive ones included; more wait to be accepted (0: no bound)")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-runs", 0, "concurrent ONNX Runtime runs across all models (0: GOMAXPROCS)")
	fs.BoolVar(&f.skipBad, "skip-bad-models", false, "serve the models that load and report the others in /v1/models, instead of exiting")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	fs.DurationVar(&f.timeout, "request-timeout", 0, "longest an inference request may take, queued and running: past it, it is dropped or its run stopped, and answered 504 or DEADLINE_EXCEEDED (0: no bound); a model's request_timeout, a request's timeout parameter and a gRPC deadline may shorten it")
	// As Triton's --model-control-mode, --repository-poll-secs and --load-model.
	control := fs.String("model-control", "none", "none: load every model at start; explicit: load and unload with POST /v2/repository/models/NAME/load|unload; poll: follow the repository directory")
	fs.IntVar(&f.pollSecs, "repository-poll-secs", 15, "with --model-control=poll, seconds between rescans of the repository")
	fs.StringVar(&f.loadModels, "load-model", "", "with --model-control=explicit, comma-separated models to load at start (* for all)")
	f.auth.register(fs)
	// Environment first, so explicit flags win.
	var envErr error
	fs.VisitAll(func(fl *flag.Flag) {
		key := "ONNXSERVE_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if err := fl.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", key, v, err)
			}
			if l, ok := fl.Value.(*listFlag); ok {
				l.fromEnv = true
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if f.modelControl, err = runtime.ParseModelControl(*control); err != nil {
		return nil, err
	}
	if f.buckets, err = parseBuckets(*buckets); err != nil {
		return nil, err
	}
	if err := f.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", *level)
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
	}
	if f.maxConns < 0 {
		return nil, fmt.Errorf("--max-connections must be 0 or more, got %d", f.maxConns)
	}
	if f.grpcStreams < 1 {
		return nil, fmt.Errorf("--grpc-max-streams must be at least 1, got %d", f.grpcStreams)
	}
	if f.maxBody < 1 || f.maxBody > math.MaxInt32 {
		return nil, fmt.Errorf("--max-body-bytes must be from 1 to %d (gRPC's largest message), got %d", math.MaxInt32, f.maxBody)
	}
	if f.maxHeader < 1 {
		return nil, fmt.Errorf("--max-header-bytes must be at least 1, got %d", f.maxHeader)
	}
	if f.timeout < 0 {
		return nil, fmt.Errorf("--request-timeout must be 0 or more, got %v", f.timeout)
	}
	if f.pollSecs < 1 {
		return nil, fmt.Errorf("--repository-poll-secs must be at least 1, got %d", f.pollSecs)
	}
	return f, nil
}

// parseBuckets reads --metrics-buckets: ascending positive seconds.
func parseBuckets(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil || v <= 0 || len(out) > 0 && v <= out[len(out)-1] {
			return nil, fmt.Errorf("--metrics-buckets %q: want ascending positive seconds, e.g. 0.001,0.01,0.1,1", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// logger is the server's logger as --log-format and --log-level say.
func (f *serveFlags) logger(w io.Writer) *slog.Logger {
	opt := &slog.HandlerOptions{Level: f.logLevel}
	if f.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opt))
	}
	return slog.New(slog.NewTextHandler(w, opt))
}

// openRepository loads what the model control mode loads at start: every
// model, or with explicit control only those --load-model names, as Triton.
func openRepository(f *serveFlags, opt runtime.LoadOptions) (*runtime.Repository, error) {
	if f.modelControl != runtime.ControlExplicit || f.loadModels == "*" {
		return runtime.OpenRepository(f.models, opt, f.skipBad)
	}
	repo, err := runtime.NewRepository(f.models, opt)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range strings.Split(f.loadModels, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	if err := repo.LoadEach(names, f.skipBad); err != nil {
		repo.Close()
		return nil, err
	}
	return repo, nil
}

// projectRoot is where the ORT cache lives: beside the binary's source
// checkout when run with `go run`/`make run`, else the working directory.
func projectRoot() string {
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if _, err := os.Stat(filepath.Join(d, ".cache", "onnxruntime")); err == nil {
				return d
			}
		}
	}
	return "."
}

func initORT(log *slog.Logger) error {
	lib, err := runtime.FindLibrary(projectRoot())
	if err != nil {
		return err
	}
	v, err := runtime.Init(lib)
	if err != nil {
		return err
	}
	log.Info("ONNX Runtime loaded", "version", v, "library", lib)
	return nil
}

func serve(args []string, stderr io.Writer) error {
	f, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	lw := newLogWriter(stderr)
	defer lw.Close()
	log := f.logger(lw)
	if err := initORT(log); err != nil {
		return err
	}
	defer runtime.Shutdown()

	limiter := runtime.NewLimiter(f.maxConcurrent)
	var mt *metrics.Metrics
	lo := runtime.LoadOptions{Limiter: limiter, Logger: log}
	if f.metrics {
		mt = metrics.New(metrics.Options{Buckets: f.buckets})
		lo.Observer = mt
	}
	repo, err := openRepository(f, lo)
	if err != nil {
		return err
	}
	defer repo.Close()
	if f.modelControl == runtime.ControlPoll {
		wctx, stopWatch := context.WithCancel(context.Background())
		defer stopWatch() // before repo.Close: deferred calls run last first
		go repo.Watch(wctx, time.Duration(f.pollSecs)*time.Second)
	}

	keys, corsPolicy, err := f.auth.open(log)
	if err != nil {
		return err
	}
	kctx, stopKeys := context.WithCancel(context.Background())
	defer stopKeys()
	go keys.Watch(kctx, keysPoll)

	copt := inference.Options{Repository: repo, ModelControl: f.modelControl, Timeout: f.timeout, Logger: log}
	if mt != nil {
		copt.Observer = mt
	}
	core := inference.New(copt)
	if mt != nil {
		mt.Watch(core)
	}
	// Both listeners open before either serves: once /readyz answers,
	// gRPC accepts connections too.
	ln, err := listen(f.addr, f.maxConns)
	if err != nil {
		return err
	}
	var gln net.Listener
	if f.grpcAddr != "" {
		if gln, err = listen(f.grpcAddr, f.maxConns); err != nil {
			ln.Close()
			return err
		}
	}
	srv := &http.Server{
		Handler: handlers.New(handlers.Options{Core: core, MaxBodyBytes: f.maxBody, Metrics: mt, AccessLog: f.accessLog, Logger: log,
			Keys: keys, CORS: corsPolicy}),
		MaxHeaderBytes:    f.maxHeader,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Signals are caught before anything serves: once /readyz answers, a
	// SIGTERM must drain the server, not kill the process (the tests'
	// serving helper sends one as soon as it saw /readyz, and lost the
	// race now and then on a loaded machine).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 3)
	var msrv *http.Server
	if mt != nil && f.metricsAddr != "" {
		mln, err := listen(f.metricsAddr, f.maxConns)
		if err != nil {
			ln.Close()
			if gln != nil {
				gln.Close()
			}
			return err
		}
		msrv = &http.Server{Handler: handlers.MetricsHandler(handlers.Options{Core: core, Metrics: mt, Logger: log, Keys: keys}), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { errc <- msrv.Serve(mln) }()
	}
	var gsrv *grpcfront.Server
	grpcAddr := "off"
	if gln != nil {
		gsrv = grpcfront.New(grpcfront.Options{Core: core, MaxMessageBytes: int(f.maxBody), MaxConcurrentStreams: uint32(f.grpcStreams),
			Metrics: mt, AccessLog: f.accessLog, Logger: log, Keys: keys})
		go func() { errc <- gsrv.Serve(gln) }()
		grpcAddr = gln.Addr().String()
	}
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "grpc_addr", grpcAddr, "models", f.models, "model_control", f.modelControl, "max_concurrent_runs", limiter.Cap(), "request_timeout", f.timeout,
		"docs", "http://"+ln.Addr().String()+"/swagger/index.html")

	select {
	case err := <-errc:
		srv.Close()
		if gsrv != nil {
			gsrv.Close()
		}
		if msrv != nil {
			msrv.Close()
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", f.shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownGrace)
	defer cancel()
	// Both servers drain at once, within the one grace. Each returns only
	// once its handlers have, so that the deferred repo.Close and
	// runtime.Shutdown never pull a session from under a run.
	gerr := make(chan error, 1)
	go func() {
		if gsrv == nil {
			gerr <- nil
			return
		}
		gerr <- gsrv.Shutdown(sctx)
	}()
	herr := srv.Shutdown(sctx)
	if herr != nil {
		srv.Close()
	}
	if msrv != nil {
		msrv.Close() // a scrape is no request to wait for
	}
	if err := errors.Join(herr, <-gerr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// listen opens a TCP listener, bounded to max connections when max > 0:
// connections past it wait in the kernel's accept queue, holding no memory
// of ours.
func listen(addr string, max int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if max > 0 {
		ln = netutil.LimitListener(ln, max)
	}
	return ln, nil
}

func inspect(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: onnxserve inspect FILE.onnx")
	}
	if err := initORT(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return err
	}
	defer runtime.Shutdown()
	sig, md, err := runtime.Inspect(args[0])
	if err != nil {
		return fmt.Errorf("inspect %s: %w", args[0], err)
	}
	fmt.Fprintf(stdout, "%s\n", args[0])
	fmt.Fprintf(stdout, "producer: %s\ngraph: %s\ndescription: %s\n", md.Producer, md.GraphName, md.Description)
	for k, v := range md.Custom {
		fmt.Fprintf(stdout, "metadata %s: %s\n", k, v)
	}
	for _, in := range sig.Inputs {
		fmt.Fprintf(stdout, "input  %-20s %-8v %s\n", in.Name, in.DType, tensor.FormatShape(in.Shape))
	}
	for _, out := range sig.Outputs {
		fmt.Fprintf(stdout, "output %-20s %-8v %s\n", out.Name, out.DType, tensor.FormatShape(out.Shape))
	}
	return nil
}
