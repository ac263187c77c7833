package grpc

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/inference"
)

// watchEvery is how often Watch looks at readiness again: the repository
// tells no one when it changes, and a second is quicker than any probe.
const watchEvery = time.Second

// health is grpc.health.v1.Health for Kubernetes' grpc probes and
// client-side health checks: the server ("") and GRPCInferenceService are
// SERVING when every model that should be loaded is, as /readyz and
// ServerReady say, and NOT_SERVING from the moment the server starts to
// shut down (the core's Ready says both).
type health struct {
	healthpb.UnimplementedHealthServer
	core *inference.Core
}

func (h *health) known(service string) bool {
	return service == "" || service == pb.GRPCInferenceService_ServiceDesc.ServiceName
}

func (h *health) status() healthpb.HealthCheckResponse_ServingStatus {
	if !h.core.Ready() {
		return healthpb.HealthCheckResponse_NOT_SERVING
	}
	return healthpb.HealthCheckResponse_SERVING
}

func (h *health) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if !h.known(req.GetService()) {
		return nil, status.Errorf(codes.NotFound, "unknown service %q", req.GetService())
	}
	return &healthpb.HealthCheckResponse{Status: h.status()}, nil
}

func (h *health) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	st := &healthpb.HealthCheckResponse{Status: h.status()}
	return &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{
		"": st, pb.GRPCInferenceService_ServiceDesc.ServiceName: st,
	}}, nil
}

// Watch sends the status now and whenever it changes; an unknown service
// is SERVICE_UNKNOWN, as the health protocol asks, not an error.
func (h *health) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx := stream.Context()
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	for {
		cur := healthpb.HealthCheckResponse_SERVICE_UNKNOWN
		if h.known(req.GetService()) {
			cur = h.status()
		}
		if cur != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: cur}); err != nil {
				return err
			}
			last = cur
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-tick.C:
		}
	}
}
