package grpc

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	grpcgo "google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
)

// The server's message buffers and codec. A ModelInferRequest's
// raw_input_contents are not copied out of the buffer the message was read
// into: they alias it, as REST's binary tensor data aliases the body, and
// the buffer goes back to the pool once the request is answered (release).
// gRPC's own pool has no size
// between 32 KiB and 1 MiB and zeroes every buffer it hands out again, and
// its proto codec reads each message through that pool: for the MLP batch
// of 32 rows (a 100 KiB message) that was a 1 MiB clear per request, most
// of it page faults on memory the Go runtime had given back, and a tenth of
// the server's time (docs/benchmarks.md). The buffers here come in powers
// of two, so a message never takes more than twice its size, and are not
// zeroed: every byte handed out is written before it is read (a frame read
// in full, a message copied in whole), and what is read never leaves the
// server.

const (
	minBufferShift = 8  // 256 B
	maxBufferShift = 25 // 32 MiB, the default --max-body-bytes; larger ones are allocated
)

// bufferPool is a mem.BufferPool of power-of-two classes that does not
// zero what it reuses.
type bufferPool struct {
	classes [maxBufferShift - minBufferShift + 1]sync.Pool
}

var messageBuffers = &bufferPool{}

// class is the index of the smallest class that holds n bytes, or -1.
func class(n int) int {
	shift := minBufferShift
	if n > 1<<minBufferShift {
		shift = bits.Len(uint(n - 1))
	}
	if shift > maxBufferShift {
		return -1
	}
	return shift - minBufferShift
}

func (p *bufferPool) Get(n int) *[]byte {
	c := class(n)
	if c < 0 {
		b := make([]byte, n)
		return &b
	}
	if v, ok := p.classes[c].Get().(*[]byte); ok {
		*v = (*v)[:n]
		return v
	}
	b := make([]byte, n, 1<<(c+minBufferShift))
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	size := cap(*b)
	if c := class(size); c >= 0 && size == 1<<(c+minBufferShift) {
		p.classes[c].Put(b)
	}
}

// codec is gRPC's proto codec, reading messages through messageBuffers.
type codec struct{ encoding.CodecV2 }

func newCodec() codec { return codec{encoding.GetCodecV2("proto")} }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal: %T is not a protobuf message", v)
	}
	buf := data.MaterializeToBuffer(messageBuffers)
	if req, ok := m.(*pb.ModelInferRequest); ok {
		err := unmarshalInfer(buf.ReadOnlyData(), req)
		if err == nil && len(req.RawInputContents) > 0 {
			held.Store(req, buf)
			return nil
		}
		buf.Free()
		return err
	}
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// held is the buffer each decoded ModelInferRequest's raw contents alias,
// until release.
var held sync.Map // *pb.ModelInferRequest → mem.Buffer

// release gives back the buffer req's raw contents alias: the service
// calls it for every request it received, once its answer is made and
// nothing reads the inputs any more.
func release(req *pb.ModelInferRequest) {
	if buf, ok := held.LoadAndDelete(req); ok {
		buf.(mem.Buffer).Free()
	}
}

// inferenceService is the generated service but for ModelInfer's handler,
// which also gives back the buffer of a message decoded for a call that
// then fails before the service is called: gRPC decodes a unary call's
// message, then waits for the end of its stream, and a client that goes
// away in between (its deadline passing) would leave the buffer held.
func inferenceService() *grpcgo.ServiceDesc {
	desc := pb.GRPCInferenceService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i, md := range desc.Methods {
		if md.MethodName != "ModelInfer" {
			continue
		}
		desc.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, ic grpcgo.UnaryServerInterceptor) (any, error) {
			return md.Handler(srv, ctx, func(m any) error {
				err := dec(m)
				if req, ok := m.(*pb.ModelInferRequest); ok && err != nil {
					release(req)
				}
				return err
			}, ic)
		}
	}
	return &desc
}

// rawInputContents is the field number of ModelInferRequest's raw tensors.
var rawInputContents = (&pb.ModelInferRequest{}).ProtoReflect().Descriptor().Fields().ByName("raw_input_contents").Number()

// unmarshalInfer is proto.Unmarshal of a ModelInferRequest, but for its
// raw_input_contents, which alias b instead of being copied out of it: the
// other fields are copied into a message of their own for proto.Unmarshal.
func unmarshalInfer(b []byte, req *pb.ModelInferRequest) error {
	var raw [][]byte
	var rest []byte
	for p := 0; p < len(b); {
		num, typ, n := protowire.ConsumeTag(b[p:])
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[p+n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		if num == rawInputContents && typ == protowire.BytesType {
			if raw == nil {
				rest = append(make([]byte, 0, len(b)/8+64), b[:p]...)
			}
			v, _ := protowire.ConsumeBytes(b[p+n:])
			raw = append(raw, v[:len(v):len(v)]) // full: an append cannot run into the next field
		} else if raw != nil {
			rest = append(rest, b[p:p+n+m]...)
		}
		p += n + m
	}
	if raw == nil {
		return proto.Unmarshal(b, req)
	}
	if err := proto.Unmarshal(rest, req); err != nil {
		return err
	}
	req.RawInputContents = raw
	return nil
}
