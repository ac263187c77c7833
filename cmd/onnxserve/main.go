// Command onnxserve serves a repository of ONNX models as REST APIs and
// the Open Inference Protocol over REST and gRPC.
//
//	onnxserve serve [--addr :8080] [--grpc-addr :8001] [--models ./models] ...
//	onnxserve config [--config onnxserve.yaml] [flags]
//	onnxserve inspect FILE.onnx
//	onnxserve health [--addr HOST:PORT]
//	onnxserve version
//
// Every serve flag can also be set from the environment as ONNXSERVE_<FLAG>,
// e.g. ONNXSERVE_ADDR=:9000 or ONNXSERVE_MAX_BODY_BYTES=1048576, or in the
// --config file under its own name (config.go).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
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
	"github.com/onnxserve/onnxserve/handlers/accesslog"
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

// usage is `onnxserve help`: the subcommands.
const usage = `Usage: onnxserve COMMAND [flags]

Commands:
  serve [flags]            serve the model repository over REST and gRPC
  config [flags]           print the configuration serve would run with, and where each value came from
  inspect FILE.onnx        print a model's inputs, outputs and metadata
  health [--addr H:P]      exit 0 when the server at --addr is ready (a container's HEALTHCHECK)
  version                  print the onnxserve version and the ONNX Runtime it loads
  help                     print this text

onnxserve serve --help lists every flag, its environment variable and its default.
`

// run runs one subcommand; serve logs to stderr in the format its flags
// say.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("no command given\n" + usage)
	}
	err := command(args, stdout, stderr)
	if h := (*helpRequested)(nil); errors.As(err, &h) {
		_, err = io.WriteString(stdout, h.text)
	}
	return err
}

func command(args []string, stdout, stderr io.Writer) error {
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "config":
		return printConfig(args[1:], stdout)
	case "inspect":
		return inspect(args[1:], stdout)
	case "health":
		return health(args[1:], stdout)
	case "version":
		return printVersion(stdout)
	case "help", "-h", "-help", "--help":
		return &helpRequested{text: usage}
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

type serveFlags struct {
	addr          string
	metrics       bool
	metricsAddr   string
	buckets       []float64
	logFormat     string
	logLevel      slog.Level
	accessLog     bool
	proxies       []netip.Prefix
	grpcAddr      string
	grpcStreams   int
	models        string
	modelName     string
	maxBody       int64
	maxHeader     int
	maxConns      int
	maxInflight   int64
	maxConcurrent int
	skipBad       bool
	shutdownGrace time.Duration
	shutdownDelay time.Duration
	timeout       time.Duration
	modelControl  runtime.ModelControl
	pollSecs      int
	loadModels    string
	tls           tlsFiles
	provider      runtime.Provider
	// settings say where each flag's value came from (onnxserve config).
	settings *settings
	auth     authFlags
}

// rawServeFlags are serve's flags read as text and parsed after settle.
type rawServeFlags struct{ buckets, level, control, provider, proxies *string }

// serveFlagSet registers serve's flags, into f and raw, on a new FlagSet.
func serveFlagSet(f *serveFlags) (*flag.FlagSet, rawServeFlags) {
	var raw rawServeFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.addr, "addr", ":8080", "listen address")
	// Triton's gRPC port.
	fs.StringVar(&f.grpcAddr, "grpc-addr", ":8001", "gRPC listen address (Open Inference Protocol, health, reflection); empty turns gRPC off")
	fs.IntVar(&f.grpcStreams, "grpc-max-streams", 100, "most gRPC calls in flight on one connection; more wait their turn")
	fs.StringVar(&f.models, "models", "./models", "model repository directory, or one model's directory (see --model-name)")
	fs.StringVar(&f.modelName, "model-name", "", "serve --models as one model of this name (KServe's /mnt/models); without it, a directory holding model.onnx is one model named after the directory")
	fs.BoolVar(&f.metrics, "metrics", true, "serve Prometheus metrics on /metrics (and on --metrics-addr)")
	// Triton serves its metrics on :8002.
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "also serve /metrics on this address, e.g. :8002 (empty: only on --addr)")
	raw.buckets = fs.String("metrics-buckets", "", "latency histogram buckets in seconds, comma-separated (default 0.0001,0.00025,...,10)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	raw.level = fs.String("log-level", "info", "least severe level logged: debug, info, warn or error")
	fs.BoolVar(&f.accessLog, "access-log", true, "log one line per request (REST and gRPC) at info")
	raw.proxies = fs.String("trusted-proxies", "", "comma-separated IPs or CIDRs of proxies (an ingress, a load balancer) whose X-Forwarded-For or X-Real-IP names a REST request's client in the access log; from any other peer those headers are ignored")
	fs.Int64Var(&f.maxBody, "max-body-bytes", 32<<20, "largest request body, and gRPC message either way, accepted (413 or RESOURCE_EXHAUSTED above)")
	// Go's default of 1 MiB lets a few hundred half-sent headers hold
	// hundreds of MB; real requests carry a few KiB.
	fs.IntVar(&f.maxHeader, "max-header-bytes", 64<<10, "largest request line and headers accepted (431 above)")
	fs.Int64Var(&f.maxInflight, "max-inflight-bytes", 0, "most bytes all requests in flight may hold at once, bodies, gRPC messages and decoded tensors, REST and gRPC together; a request that would pass it gets 503 with Retry-After or RESOURCE_EXHAUSTED at once (0: a quarter of the cgroup memory limit, or of RAM)")
	fs.IntVar(&f.maxConns, "max-connections", 0, "most client connections served at once, idle keep-alive ones included; more wait to be accepted (0: no bound)")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-runs", 0, "concurrent ONNX Runtime runs across all models (0: GOMAXPROCS)")
	fs.BoolVar(&f.skipBad, "skip-bad-models", false, "serve the models that load and report the others in /v1/models, instead of exiting")
	fs.DurationVar(&f.shutdownDelay, "shutdown-delay", 0, "on SIGTERM, how long to go on serving while readiness says 503, before the listeners close: time for load balancers to stop sending (Kubernetes: a few seconds)")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", 30*time.Second, "after --shutdown-delay, how long in-flight requests may take to finish; reading a request may take half of it at most (408 past that)")
	fs.DurationVar(&f.timeout, "request-timeout", 0, "longest an inference request may take, queued and running: past it, it is dropped or its run stopped, and answered 504 or DEADLINE_EXCEEDED (0: no bound); a model's request_timeout, a request's timeout parameter and a gRPC deadline may shorten it")
	// As Triton's --model-control-mode, --repository-poll-secs and --load-model.
	raw.control = fs.String("model-control", "none", "none: load every model at start; explicit: load and unload with POST /v2/repository/models/NAME/load|unload; poll: follow the repository directory")
	fs.IntVar(&f.pollSecs, "repository-poll-secs", 15, "with --model-control=poll, seconds between rescans of the repository")
	fs.StringVar(&f.loadModels, "load-model", "", "with --model-control=explicit, comma-separated models to load at start (* for all)")
	fs.StringVar(&f.tls.cert, "tls-cert", "", "PEM certificate (chain) every listener serves TLS with: --addr, --grpc-addr, --metrics-addr; re-read when the file changes")
	fs.StringVar(&f.tls.key, "tls-key", "", "PEM private key of --tls-cert, re-read with it")
	fs.StringVar(&f.tls.clientCA, "tls-client-ca", "", "PEM CA certificates for mutual TLS: every client must present a certificate one of them signed")
	raw.provider = fs.String("execution-provider", "cpu", "what models run on unless their config.yaml's execution_provider says: cpu, cuda, tensorrt, or auto (CUDA when it can be used, else CPU); a provider that cannot be used falls back to CPU with a warning")
	f.auth.register(fs)
	fs.String(configFlag, "", "YAML file of flag values, keyed by flag name (see onnxserve.example.yaml)")
	return fs, raw
}

func parseServeFlags(args []string) (*serveFlags, error) {
	f := &serveFlags{}
	fs, raw := serveFlagSet(f)
	var err error
	if f.settings, err = settle(fs, args, os.LookupEnv); err != nil {
		return nil, err
	}
	if f.modelControl, err = runtime.ParseModelControl(*raw.control); err != nil {
		return nil, err
	}
	if f.buckets, err = parseBuckets(*raw.buckets); err != nil {
		return nil, err
	}
	if f.proxies, err = parseProxies(*raw.proxies); err != nil {
		return nil, err
	}
	if err := f.logLevel.UnmarshalText([]byte(*raw.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", *raw.level)
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
	}
	if f.maxConns < 0 {
		return nil, fmt.Errorf("--max-connections must be 0 or more, got %d", f.maxConns)
	}
	if f.maxInflight < 0 {
		return nil, fmt.Errorf("--max-inflight-bytes must be 0 (a quarter of the memory limit) or more, got %d", f.maxInflight)
	}
	if f.maxInflight == 0 {
		f.maxInflight = defaultInflightBytes()
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
	if f.shutdownDelay < 0 {
		return nil, fmt.Errorf("--shutdown-delay must be 0 or more, got %v", f.shutdownDelay)
	}
	if f.shutdownGrace < time.Second {
		return nil, fmt.Errorf("--shutdown-grace must be at least 1s, got %v", f.shutdownGrace)
	}
	if f.pollSecs < 1 {
		return nil, fmt.Errorf("--repository-poll-secs must be at least 1, got %d", f.pollSecs)
	}
	if f.provider, err = runtime.ParseProvider(*raw.provider); err != nil {
		return nil, fmt.Errorf("--execution-provider: %w", err)
	}
	if err := f.tls.check(); err != nil {
		return nil, err
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

// parseProxies reads --trusted-proxies: IPs (one address each) and CIDRs.
func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if !strings.Contains(part, "/") {
			var a netip.Addr
			if a, err = netip.ParseAddr(part); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies %q: want IPs or CIDRs, e.g. 10.0.0.0/8,192.168.1.7: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// logger is the server's logger as --log-format and --log-level say, on
// accesslog's handler, which writes the access line without slog's cost.
func (f *serveFlags) logger(w io.Writer) *slog.Logger {
	return slog.New(accesslog.NewHandler(w, f.logFormat == "json", &slog.HandlerOptions{Level: f.logLevel}))
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
	// Before models load: a bad certificate fails at once.
	tlsConfig, err := f.tls.config(log)
	if err != nil {
		return err
	}
	// Every listener is bound before the models load, so that an address
	// already in use fails at once rather than after the loads; until
	// serving starts, connections wait in the kernel's accept queue. Both
	// the HTTP and gRPC ones are open before either serves: once /readyz
	// answers, gRPC accepts connections too.
	lns, err := f.listen()
	if err != nil {
		return err
	}
	defer lns.close() // the servers close them first; a second close is harmless
	// Keys and CORS origins too: a broken keys file fails before the loads.
	keys, corsPolicy, err := f.auth.open(log)
	if err != nil {
		return err
	}
	kctx, stopKeys := context.WithCancel(context.Background())
	defer stopKeys()
	go keys.Watch(kctx, keysPoll)
	if err := initORT(log); err != nil {
		return err
	}
	defer runtime.Shutdown()

	goLimit := setMemoryLimit(f.maxInflight)
	limiter := runtime.NewLimiter(f.maxConcurrent)
	var mt *metrics.Metrics
	lo := runtime.LoadOptions{Limiter: limiter, Logger: log, ExecutionProvider: f.provider}
	if f.metrics {
		mt = metrics.New(metrics.Options{Buckets: f.buckets})
		lo.Observer = mt
	}
	lo.ModelName = f.modelName
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

	copt := inference.Options{Repository: repo, ModelControl: f.modelControl, Timeout: f.timeout, MaxInflightBytes: f.maxInflight, Logger: log}
	if mt != nil {
		copt.Observer = mt
	}
	core := inference.New(copt)
	if mt != nil {
		mt.Watch(core)
	}
	ln, gln := lns.http, lns.grpc
	// Reading a request takes at most half the grace: one accepted before
	// the listeners close is read, or answered 408, with half the grace
	// left to answer it, and a slow upload cannot hold the exit past it.
	srv := &http.Server{
		Handler: handlers.New(handlers.Options{Core: core, MaxBodyBytes: f.maxBody, Metrics: mt, AccessLog: f.accessLog, Logger: log, TrustedProxies: f.proxies,
			Keys: keys, CORS: corsPolicy}),
		MaxHeaderBytes:    f.maxHeader,
		ReadHeaderTimeout: min(10*time.Second, f.shutdownGrace/2),
		ReadTimeout:       min(2*time.Minute, f.shutdownGrace/2),
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Signals are caught before anything serves: once /readyz answers, a
	// SIGTERM must drain the server, not kill the process (the tests'
	// serving helper sends one as soon as it saw /readyz, and lost the
	// race now and then on a loaded machine).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	errc := make(chan error, 3)
	var msrv *http.Server
	if mln := lns.metrics; mln != nil {
		msrv = &http.Server{Handler: handlers.MetricsHandler(handlers.Options{Core: core, Metrics: mt, Logger: log, Keys: keys}), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { errc <- serveHTTP(msrv, mln, tlsConfig) }()
	}
	var gsrv *grpcfront.Server
	grpcAddr := "off"
	if gln != nil {
		gsrv = grpcfront.New(grpcfront.Options{Core: core, MaxMessageBytes: int(f.maxBody), MaxConcurrentStreams: uint32(f.grpcStreams),
			Metrics: mt, AccessLog: f.accessLog, Logger: log, TLS: tlsConfig, Keys: keys})
		go func() { errc <- gsrv.Serve(gln) }()
		grpcAddr = gln.Addr().String()
	}
	go func() { errc <- serveHTTP(srv, ln, tlsConfig) }()
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	log.Info("serving", "addr", ln.Addr().String(), "grpc_addr", grpcAddr, "models", f.models, "model_control", f.modelControl, "max_concurrent_runs", limiter.Cap(), "max_inflight_bytes", f.maxInflight, "go_memory_limit", goLimit, "request_timeout", f.timeout,
		"tls", tlsConfig != nil, "mutual_tls", tlsConfig != nil && tlsConfig.ClientCAs != nil,
		"docs", scheme+"://"+ln.Addr().String()+"/swagger/index.html")

	closeAll := func() {
		srv.Close()
		if gsrv != nil {
			gsrv.Close()
		}
		if msrv != nil {
			msrv.Close()
		}
	}
	select {
	case err := <-errc:
		closeAll()
		return err
	case <-sigs:
	}
	// Not ready from now on, REST and gRPC, and REST answers say
	// Connection: close; serving goes on through the delay, while load
	// balancers take the server out of rotation. A second signal cuts the
	// delay short.
	core.Drain()
	log.Info("shutting down: not ready, still serving", "delay", f.shutdownDelay, "grace", f.shutdownGrace)
	if f.shutdownDelay > 0 {
		t := time.NewTimer(f.shutdownDelay)
		select {
		case err := <-errc:
			t.Stop()
			closeAll()
			return err
		case <-t.C:
		case <-sigs:
			t.Stop()
		}
	}
	log.Info("shutting down: listeners closed, finishing in-flight requests", "grace", f.shutdownGrace)
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

// serveHTTP serves srv on ln, with TLS when cfg is set (a copy: the
// server adds its HTTP/2 protocol to it).
func serveHTTP(srv *http.Server, ln net.Listener, cfg *tls.Config) error {
	if cfg == nil {
		return srv.Serve(ln)
	}
	srv.TLSConfig = cfg.Clone()
	return srv.ServeTLS(ln, "", "")
}

// listeners are the addresses serve binds: HTTP, and gRPC and metrics
// when their flags ask for them (else nil).
type listeners struct{ http, grpc, metrics net.Listener }

func (f *serveFlags) listen() (*listeners, error) {
	l := &listeners{}
	var err error
	if l.http, err = listen(f.addr, f.maxConns); err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	if f.grpcAddr != "" {
		if l.grpc, err = listen(f.grpcAddr, f.maxConns); err != nil {
			l.close()
			return nil, fmt.Errorf("--grpc-addr: %w", err)
		}
	}
	if f.metrics && f.metricsAddr != "" {
		if l.metrics, err = listen(f.metricsAddr, f.maxConns); err != nil {
			l.close()
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
	}
	return l, nil
}

func (l *listeners) close() {
	for _, ln := range []net.Listener{l.http, l.grpc, l.metrics} {
		if ln != nil {
			ln.Close()
		}
	}
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
