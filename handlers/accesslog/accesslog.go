// Package accesslog writes the one access line every request gets, REST
// and gRPC alike, so that one request can be found in the logs by its id
// whatever protocol carried it, with what the core recorded of it.
package accesslog

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/onnxserve/onnxserve/handlers/inference"
)

// Header is the request id's header (HTTP) and metadata key (gRPC): a
// client's id is kept, and one is made for a request that has none.
const Header = "X-Request-ID"

// maxID bounds a client's request id: longer ones are replaced, so that a
// client cannot make every log line of its requests kilobytes long.
const maxID = 128

// ID is the request's id: the client's when it sent a usable one, else a
// new random one.
func ID(sent string) string {
	if sent != "" && len(sent) <= maxID {
		return sent
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// Line is one request's access line.
type Line struct {
	ID       string
	Protocol string // "http" or "grpc"
	// Method is the HTTP method, written before Route ("POST /v1/..."):
	// the line joins them, not the caller, which would make a string per
	// request. Empty for gRPC.
	Method string
	Route  string // the route pattern, or the gRPC method
	// Status is the gRPC code's name; when it is empty, the status is
	// Code, the HTTP status code, written in decimal.
	Status   string
	Code     int
	Client   string
	BytesIn  int64
	BytesOut int64
	Duration time.Duration
	// Record is what the core recorded of an inference request; nil or
	// empty for others.
	Record *inference.Record
}

// Write logs l at INFO, whatever its status: a request the server failed
// is logged at ERROR where it failed, with the cause; the access line is
// the request's, not the server's. A logger on a Handler writes the line
// itself; any other gets l's attributes through slog.
func Write(ctx context.Context, log *slog.Logger, l Line) {
	if h, ok := log.Handler().(*Handler); ok && h.fast {
		h.write(ctx, &l)
		return
	}
	log.LogAttrs(ctx, slog.LevelInfo, "request", l.attrs()...)
}

// attrs are l's attributes, in the line's order.
func (l *Line) attrs() []slog.Attr {
	route, status := l.Route, l.Status
	if l.Method != "" {
		route = l.Method + " " + route
	}
	if status == "" {
		status = strconv.Itoa(l.Code)
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("request_id", l.ID), slog.String("protocol", l.Protocol), slog.String("route", route),
		slog.String("status", status), slog.Float64("duration_ms", ms(l.Duration)),
		slog.Int64("bytes_in", l.BytesIn), slog.Int64("bytes_out", l.BytesOut), slog.String("client", l.Client))
	if r := l.Record; r != nil && r.Caller != "" {
		attrs = append(attrs, slog.String("key", r.Caller))
	}
	if r := l.Record; r != nil && r.Model != "" {
		attrs = append(attrs, slog.String("model", r.Model), slog.String("version", r.Version),
			slog.Float64("queue_ms", ms(r.Queue)), slog.Int("batch", r.Run.Rows))
		if r.ID != "" {
			attrs = append(attrs, slog.String("id", r.ID))
		}
		if r.Err != nil {
			attrs = append(attrs, slog.String("error", r.Err.Message))
		}
	}
	return attrs
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
