package grpc

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/onnxserve/onnxserve/handlers/accesslog"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/metrics"
)

// observer is the gRPC counterpart of the router's observe middleware, as
// a stats.Handler: it sees every call from its start to its end, with the
// bytes on the wire, for the unary calls and the streams alike. Each call
// gets its id (the client's x-request-id metadata, or a new one, sent back
// in the response header) and a Record for the core to fill; at its end it
// is counted and gets its access line. A ModelStreamInfer stream is one
// call: its requests get lines of their own from the service (stream.go).
type observer struct {
	metrics   *metrics.Metrics
	accessLog bool
	log       *slog.Logger
}

// call is what observer keeps of one call, in its context.
type call struct {
	id      string
	method  string
	start   time.Time
	in, out int64
	record  *inference.Record
	counted bool // in the metrics' in-flight gauge
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

func (o *observer) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	c := &call{method: info.FullMethodName, start: time.Now()}
	if o.metrics != nil {
		o.metrics.Enter(metrics.GRPCProtocol)
		c.counted = true
	}
	if o.accessLog {
		var sent string
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(accesslog.Header); len(v) > 0 {
				sent = v[0]
			}
		}
		c.id = accesslog.ID(sent)
		ctx, c.record = inference.WithRecord(ctx)
	}
	return context.WithValue(ctx, callKey{}, c)
}

func (o *observer) HandleRPC(ctx context.Context, s stats.RPCStats) {
	c := callOf(ctx)
	if c == nil {
		return
	}
	switch s := s.(type) {
	case *stats.InPayload:
		c.in += int64(s.WireLength)
	case *stats.OutPayload:
		c.out += int64(s.WireLength)
	case *stats.End:
		code := status.Code(s.Error).String()
		if c.counted {
			o.metrics.Leave(metrics.GRPCProtocol)
			o.metrics.GRPC(c.method, code)
		}
		if o.accessLog {
			o.write(ctx, accesslog.Line{ID: c.id, Route: c.method, Status: code, BytesIn: c.in, BytesOut: c.out,
				Duration: time.Since(c.start), Record: c.record})
		}
	}
}

// write logs the access line l of a call on ctx's connection.
func (o *observer) write(ctx context.Context, l accesslog.Line) {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		l.Client = p.Addr.String()
	}
	l.Protocol = "grpc"
	accesslog.Write(ctx, o.log, l)
}

func (o *observer) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (o *observer) HandleConn(context.Context, stats.ConnStats)                       {}
