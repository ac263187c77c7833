package grpc

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"time"

	grpcgo "google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/onnxserve/onnxserve/docs"
	"github.com/onnxserve/onnxserve/handlers/accesslog"
	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// streamWindow is how many requests of one ModelStreamInfer stream run at
// once: enough for a streaming client to fill a dynamic batch, few enough
// that one stream cannot hold more than a handful of messages in memory.
const streamWindow = 8

// service is GRPCInferenceService over the core. Each method translates
// the message into a core call and the result back; no rule lives here.
type service struct {
	pb.UnimplementedGRPCInferenceServiceServer
	core *inference.Core
	log  *slog.Logger
	// bound is the largest message taken: no input has more elements.
	bound int
	// obs writes the access lines of a stream's requests; nil when off.
	obs *observer
}

func (s *service) fail(ctx context.Context, method string, err error) error {
	return failure(ctx, s.log, method, err).Err()
}

func (s *service) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (s *service) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: s.core.Ready()}, nil
}

// ModelReady answers false for a model that is in the repository but
// cannot serve (its load failed), and NOT_FOUND for one that is not, as
// REST answers 404.
func (s *service) ModelReady(ctx context.Context, req *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	err := s.core.ModelReady(req.GetName(), req.GetVersion())
	if e := inference.From(err); e != nil {
		if e.Kind == inference.NotFound {
			return nil, s.fail(ctx, "ModelReady", e)
		}
		return &pb.ModelReadyResponse{Ready: false}, nil
	}
	return &pb.ModelReadyResponse{Ready: true}, nil
}

func (s *service) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{Name: "onnxserve", Version: docs.SwaggerInfo.Version, Extensions: []string{"classification", "model_repository"}}, nil
}

func (s *service) ModelMetadata(ctx context.Context, req *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	m, release, err := s.core.Acquire(req.GetName(), req.GetVersion())
	if err != nil {
		return nil, s.fail(ctx, "ModelMetadata", err)
	}
	defer release()
	return &pb.ModelMetadataResponse{
		Name: m.Name, Versions: s.core.Versions(m.Name), Platform: inference.Platform,
		Inputs: tensorMetadata(m.Signature.Inputs), Outputs: tensorMetadata(m.Signature.Outputs),
		Parameters: map[string]*pb.InferParameter{inference.ExecutionProviderParameter: {
			ParameterChoice: &pb.InferParameter_StringParam{StringParam: string(m.ExecutionProvider)}}},
	}, nil
}

// desc is GRPCInferenceService as generated, but for ModelInfer's
// handler (modelInfer), which gives the codec an inferMessage to read.
func (s *service) desc() *grpcgo.ServiceDesc {
	d := pb.GRPCInferenceService_ServiceDesc
	d.Methods = slices.Clone(d.Methods)
	for i := range d.Methods {
		if d.Methods[i].MethodName == "ModelInfer" {
			d.Methods[i].Handler = s.modelInfer
		}
	}
	return &d
}

// modelInfer is the generated ModelInfer handler, but for the message it
// has the codec read: an inferMessage, whose reservation of the server's
// budget it releases once the call is answered, or whose refusal it
// answers, RESOURCE_EXHAUSTED, through the interceptors as any answer.
func (s *service) modelInfer(_ any, ctx context.Context, dec func(any) error, interceptor grpcgo.UnaryServerInterceptor) (any, error) {
	m := new(inferMessage)
	defer m.lease.Release()
	if err := dec(m); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return s.answerMessage(ctx, m)
	}
	return interceptor(ctx, &m.ModelInferRequest, &grpcgo.UnaryServerInfo{Server: s, FullMethod: pb.GRPCInferenceService_ModelInfer_FullMethodName},
		func(ctx context.Context, _ any) (any, error) { return s.answerMessage(ctx, m) })
}

// answerMessage is ModelInfer of a message the codec read, or its refusal.
func (s *service) answerMessage(ctx context.Context, m *inferMessage) (*pb.ModelInferResponse, error) {
	if m.refused != nil {
		return nil, s.fail(ctx, "ModelInfer", m.refused)
	}
	return s.ModelInfer(ctx, &m.ModelInferRequest)
}

func (s *service) ModelInfer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	resp, err := s.infer(ctx, req)
	if err != nil {
		return nil, s.fail(ctx, "ModelInfer", err)
	}
	return resp, nil
}

// infer runs one request, for ModelInfer and each request of a stream.
// The model version is held from before the request is decoded until the
// response is made, and no longer.
func (s *service) infer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	m, done, err := s.core.Acquire(req.GetModelName(), req.GetModelVersion())
	if err != nil {
		return nil, err
	}
	defer done()
	if rec := inference.RecordOf(ctx); rec != nil {
		rec.ID = req.GetId()
	}
	r, err := decode(m, req, s.bound)
	if err != nil {
		return nil, s.core.Refuse(ctx, m, err)
	}
	runCtx, cancel := answerInTime(ctx)
	defer cancel()
	resp, err := s.core.Infer(runCtx, m, r)
	if err != nil {
		return nil, err
	}
	return encode(resp, req.GetId())
}

// ModelStreamInfer runs the requests of one stream, up to streamWindow at
// once, and answers each in the order the requests came. A request that
// fails answers with its error_message (and its id, model and version in
// infer_response, so that a client can tell which failed); the stream goes
// on. It ends when the client closes its side, once every answer is sent.
func (s *service) ModelStreamInfer(stream pb.GRPCInferenceService_ModelStreamInferServer) error {
	ctx := stream.Context()
	// Each request's answer comes on its own channel; the channels queue
	// in request order, and the queue's capacity is the window.
	pending := make(chan chan *pb.ModelStreamInferResponse, streamWindow)
	sent := make(chan error, 1)
	go func() {
		var err error
		for answer := range pending {
			r := <-answer
			if err == nil {
				err = stream.Send(r)
			}
		}
		sent <- err
	}()
	for {
		// An inferMessage, as modelInfer's: its lease is released once
		// its answer is made.
		req := new(inferMessage)
		err := stream.RecvMsg(req)
		if err != nil {
			close(pending)
			serr := <-sent
			if err == io.EOF {
				return serr
			}
			return err
		}
		answer := make(chan *pb.ModelStreamInferResponse, 1)
		select {
		case pending <- answer:
		case <-ctx.Done():
			req.lease.Release() // never answered
			close(pending)
			<-sent
			return ctx.Err()
		}
		go func() { answer <- s.streamAnswer(ctx, req) }()
	}
}

func (s *service) streamAnswer(ctx context.Context, m *inferMessage) *pb.ModelStreamInferResponse {
	defer m.lease.Release()
	req := &m.ModelInferRequest
	var rec *inference.Record
	start, in := time.Now(), 0
	if s.obs != nil && s.obs.accessLog {
		// Each request of the stream has an access line of its own.
		call := inference.RecordOf(ctx)
		ctx, rec = inference.WithRecord(ctx)
		if call != nil {
			rec.Caller = call.Caller // the stream's key, checked once at its start
		}
		in = proto.Size(req) // before infer gives req's buffer back
	}
	resp, err := (*pb.ModelInferResponse)(nil), m.refused
	if err == nil {
		resp, err = s.infer(ctx, req)
	}
	code := "OK"
	var out *pb.ModelStreamInferResponse
	if err == nil {
		out = &pb.ModelStreamInferResponse{InferResponse: resp}
	} else {
		st := failure(ctx, s.log, "ModelStreamInfer", err)
		code = st.Code().String()
		out = &pb.ModelStreamInferResponse{
			ErrorMessage:  st.Message(),
			InferResponse: &pb.ModelInferResponse{ModelName: req.GetModelName(), ModelVersion: req.GetModelVersion(), Id: req.GetId()},
		}
	}
	if rec != nil {
		if c := callOf(ctx); c != nil {
			s.obs.write(ctx, accesslog.Line{ID: c.id, Route: c.method, Status: code, BytesIn: int64(in), BytesOut: int64(proto.Size(out)),
				Duration: time.Since(start), Record: rec})
		}
	}
	return out
}

func (s *service) RepositoryIndex(ctx context.Context, req *pb.RepositoryIndexRequest) (*pb.RepositoryIndexResponse, error) {
	idx, err := s.core.Index(req.GetReady())
	if err != nil {
		return nil, s.fail(ctx, "RepositoryIndex", err)
	}
	out := &pb.RepositoryIndexResponse{Models: make([]*pb.RepositoryIndexResponse_ModelIndex, len(idx))}
	for i, e := range idx {
		out.Models[i] = &pb.RepositoryIndexResponse_ModelIndex{Name: e.Name, Version: e.Version, State: e.State, Reason: e.Reason}
	}
	return out, nil
}

func (s *service) RepositoryModelLoad(ctx context.Context, req *pb.RepositoryModelLoadRequest) (*pb.RepositoryModelLoadResponse, error) {
	params := make([]string, 0, len(req.GetParameters()))
	for key := range req.GetParameters() {
		params = append(params, key)
	}
	if err := s.core.Load(req.GetModelName(), params); err != nil {
		return nil, s.fail(ctx, "RepositoryModelLoad", err)
	}
	return &pb.RepositoryModelLoadResponse{}, nil
}

// RepositoryModelUnload ignores its parameters: Triton's only one,
// unload_dependents, changes nothing for models that have no dependents.
func (s *service) RepositoryModelUnload(ctx context.Context, req *pb.RepositoryModelUnloadRequest) (*pb.RepositoryModelUnloadResponse, error) {
	if err := s.core.Unload(req.GetModelName()); err != nil {
		return nil, s.fail(ctx, "RepositoryModelUnload", err)
	}
	return &pb.RepositoryModelUnloadResponse{}, nil
}

func tensorMetadata(specs []tensor.TensorSpec) []*pb.ModelMetadataResponse_TensorMetadata {
	described := inference.Described(specs)
	out := make([]*pb.ModelMetadataResponse_TensorMetadata, len(described))
	for i, s := range described {
		out[i] = &pb.ModelMetadataResponse_TensorMetadata{Name: s.Name, Datatype: s.DType.V2Name(), Shape: s.Shape}
	}
	return out
}
