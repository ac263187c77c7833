package grpc

import (
	"context"
	"log/slog"
	"strings"

	grpcgo "google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/tap"

	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/inference"
)

// authorize checks the key a call carries against what its method needs
// (auth's table), and names the caller in the call's access line.
func authorize(ctx context.Context, keys *auth.Keys, policy *auth.Policy, log *slog.Logger, method string) error {
	need, _ := policy.RPC(method)
	key, err := keys.Check(need, metadataKey(ctx))
	if err != nil {
		return failure(ctx, log, method, err).Err()
	}
	nameCaller(ctx, key.ID)
	return nil
}

// callerKey carries the id of the key the tap found, for the interceptors
// to name the caller without checking the key a second time.
type callerKey struct{}

// tapped names the caller the tap found.
func tapped(ctx context.Context) {
	id, _ := ctx.Value(callerKey{}).(string)
	nameCaller(ctx, id)
}

func nameCaller(ctx context.Context, id string) {
	if id == "" {
		return
	}
	if rec := inference.RecordOf(ctx); rec != nil {
		rec.Caller = id
	}
}

// metadataKey is the key a call presents: metadata authorization: Bearer
// KEY, as REST's header, or x-api-key: KEY.
func metadataKey(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	return keyOf(md)
}

func keyOf(md metadata.MD) string {
	if v := md.Get("authorization"); len(v) > 0 {
		if k := auth.Bearer(v[0]); k != "" {
			return k
		}
	}
	if v := md.Get("x-api-key"); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// authInterceptors refuse a call without the key its method needs on its
// headers alone (the tap), before grpc-go reads a message of it, so that
// a caller without a key cannot make the server take in, copy, decode and
// reserve on the in-flight budget up to --max-body-bytes a call, which
// callers with a key would then lack. A call the tap refuses has no access
// line, as a connection refused has none. The interceptors name the
// caller in the access line, and a stream's is checked again for every
// message (keyedStream). They are installed only when keys are
// configured, so an open server pays nothing for them.
func authInterceptors(keys *auth.Keys, log *slog.Logger) []grpcgo.ServerOption {
	policy := auth.NewPolicy()
	return []grpcgo.ServerOption{
		grpcgo.InTapHandle(func(ctx context.Context, info *tap.Info) (context.Context, error) {
			need, _ := policy.RPC(info.FullMethodName)
			key, err := keys.Check(need, keyOf(info.Header))
			if err != nil {
				return ctx, failure(ctx, log, info.FullMethodName, err).Err()
			}
			return context.WithValue(ctx, callerKey{}, key.ID), nil
		}),
		grpcgo.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpcgo.UnaryServerInfo, handler grpcgo.UnaryHandler) (any, error) {
			tapped(ctx)
			return handler(ctx, req)
		}),
		grpcgo.ChainStreamInterceptor(func(srv any, ss grpcgo.ServerStream, info *grpcgo.StreamServerInfo, handler grpcgo.StreamHandler) error {
			tapped(ss.Context())
			check := func() error { return authorize(ss.Context(), keys, policy, log, info.FullMethod) }
			return handler(srv, &keyedStream{ServerStream: ss, check: check})
		}),
	}
}

// keyedStream checks the call's key again for every message it receives:
// a stream lasts as long as its client keeps it open, and a key taken out
// of the keys file must stop the streams opened with it, not only the
// calls that come after.
type keyedStream struct {
	grpcgo.ServerStream
	check func() error
}

func (s *keyedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.check()
}
