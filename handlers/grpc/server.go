// Package grpc is the Open Inference Protocol's gRPC front end: KServe's
// v2 GRPCInferenceService with Triton's streaming and repository RPCs, the
// standard health service and server reflection, over the same core as
// REST. It translates messages into core requests and answers back; every
// rule a request must meet is the core's.
//
//	server.go   the gRPC server: limits, keepalive, graceful stop
//	service.go  the RPCs
//	decode.go   ModelInferRequest into the core's Request
//	encode.go   the core's Response into ModelInferResponse
//	errors.go   error kinds into status codes
//	health.go   grpc.health.v1.Health
package grpc

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	grpcgo "google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/experimental"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"

	"github.com/onnxserve/onnxserve/handlers/accesslog"
	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/metrics"
)

// Options configure the gRPC server.
type Options struct {
	Core *inference.Core
	// MaxMessageBytes bounds every message received and sent, as
	// --max-body-bytes bounds a REST body: a larger one is
	// RESOURCE_EXHAUSTED.
	MaxMessageBytes int
	// MaxConcurrentStreams bounds the RPCs in flight on one connection;
	// more wait for one to end (HTTP/2 flow control). 0 is 100.
	MaxConcurrentStreams uint32
	// Metrics, when set, counts every call.
	Metrics *metrics.Metrics
	// AccessLog writes one line per call, and per request of a stream, to
	// Logger.
	AccessLog bool
	Logger    *slog.Logger
	// TLS, when set, serves TLS (and mutual TLS when it asks for client
	// certificates) instead of plaintext.
	TLS *tls.Config
	// Keys, when enabled, are the API keys the RPCs need, as package
	// auth's table says; otherwise every RPC is open.
	Keys *auth.Keys
}

// Server serves GRPCInferenceService, health and reflection.
type Server struct {
	srv    *grpcgo.Server
	health *health
}

// New returns a server over opt.Core.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxConcurrentStreams == 0 {
		opt.MaxConcurrentStreams = 100
	}
	var obs *observer
	if opt.Metrics != nil || opt.AccessLog {
		obs = &observer{metrics: opt.Metrics, accessLog: opt.AccessLog, log: opt.Logger}
	}
	options := []grpcgo.ServerOption{
		// Messages are read into buffers that are not zeroed (codec.go).
		experimental.BufferPool(messageBuffers),
		grpcgo.ForceServerCodecV2(newCodec(opt.Core.Budget())),
		// Windows that let a tensor of up to 1 MiB arrive in one flight:
		// on a fast link (loopback, a pod's sidecar) the BDP estimate
		// stays at 64 KiB, and a 100 KiB tensor waited for a window update.
		grpcgo.InitialWindowSize(1 << 20),
		grpcgo.InitialConnWindowSize(16 << 20),
		grpcgo.MaxRecvMsgSize(opt.MaxMessageBytes),
		grpcgo.MaxSendMsgSize(opt.MaxMessageBytes),
		grpcgo.MaxConcurrentStreams(opt.MaxConcurrentStreams),
		// Stop returns only once every handler has: the repository is
		// closed after it, and must not lose a session under a run.
		grpcgo.WaitForHandlers(true),
		// A client may ping at most every 10 s, and while it has no RPC
		// too, as Triton's clients do; one that pings faster is sent away
		// (GOAWAY), so pings cannot be a flood.
		grpcgo.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// The server pings an idle connection after 2 minutes and drops it
		// if no answer comes in 20 s: a peer that vanished without a FIN
		// frees its connection.
		grpcgo.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Minute, Timeout: 20 * time.Second}),
	}
	if opt.TLS != nil {
		options = append(options, grpcgo.Creds(credentials.NewTLS(opt.TLS)))
	}
	if obs != nil {
		options = append(options, grpcgo.StatsHandler(obs),
			grpcgo.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpcgo.UnaryServerInfo, handler grpcgo.UnaryHandler) (any, error) {
				echoID(ctx, func(md metadata.MD) error { return grpcgo.SetHeader(ctx, md) })
				return handler(ctx, req)
			}),
			grpcgo.ChainStreamInterceptor(func(srv any, ss grpcgo.ServerStream, _ *grpcgo.StreamServerInfo, handler grpcgo.StreamHandler) error {
				echoID(ss.Context(), ss.SetHeader)
				return handler(srv, ss)
			}))
	}
	if opt.Keys.Enabled() {
		// After the observer's, so that a refused call has its id and
		// access line too.
		options = append(options, authInterceptors(opt.Keys, opt.Logger)...)
	}
	srv := grpcgo.NewServer(options...)
	h := &health{core: opt.Core}
	svc := &service{core: opt.Core, log: opt.Logger, bound: opt.MaxMessageBytes, obs: obs}
	srv.RegisterService(svc.desc(), svc)
	healthpb.RegisterHealthServer(srv, h)
	reflection.Register(srv)
	return &Server{srv: srv, health: h}
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown marks the core as draining (health checks say NOT_SERVING, if
// the caller did not already), refuses new RPCs and waits for those in
// flight until ctx ends, then cuts them off.
func (s *Server) Shutdown(ctx context.Context) error {
	s.health.core.Drain()
	done := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.srv.Stop()
		<-done
		return ctx.Err()
	}
}

// Close cuts every connection and RPC off at once, and returns once the
// handlers have.
func (s *Server) Close() { s.srv.Stop() }

// echoID sends the call's request id back in its response header.
func echoID(ctx context.Context, set func(metadata.MD) error) {
	if c := callOf(ctx); c != nil && c.id != "" {
		set(metadata.Pairs(accesslog.Header, c.id))
	}
}
