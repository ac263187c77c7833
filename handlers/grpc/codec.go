package grpc

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/sizeclass"
)

// The server's message buffers and codec. gRPC's own pool has no size
// between 32 KiB and 1 MiB and zeroes every buffer it hands out again, and
// its proto codec reads each message through that pool: for the MLP batch
// of 32 rows (a 100 KiB message) that was a 1 MiB clear per request, most
// of it page faults on memory the Go runtime had given back, and a tenth of
// the server's time (docs/benchmarks.md). The frame buffers here come in
// size classes, so a message takes at most a quarter more than its size
// (or 4 KiB), and are not zeroed: every byte handed out is written before
// it is read (a frame read in full, a message copied in whole), and what
// is read never leaves the server. A ModelInferRequest's raw_input_contents are not
// copied out of its message by protobuf: they alias the message's bytes,
// as REST's binary tensor data aliases the body.

// bufferPool is a mem.BufferPool by handlers/sizeclass's classes, up to
// 32 MiB (the default --max-body-bytes; larger ones are allocated), that
// does not zero what it reuses.
type bufferPool struct{ p sizeclass.Pool[byte] }

var messageBuffers = &bufferPool{p: sizeclass.Pool[byte]{Limit: sizeclass.Max}}

func (p *bufferPool) Get(n int) *[]byte {
	if b, ok := p.p.Get(n); ok {
		*b = (*b)[:n]
		return b
	}
	b := p.p.Make(n, n)
	return &b
}

func (p *bufferPool) Put(b *[]byte) { p.p.Put(b) }

// codec is gRPC's proto codec, reading messages through messageBuffers,
// and ModelInferRequests into buffers reserved from the server's budget.
type codec struct {
	encoding.CodecV2
	budget *inference.Budget
}

func newCodec(budget *inference.Budget) codec { return codec{encoding.GetCodecV2("proto"), budget} }

// inferMessage is a ModelInferRequest as the service receives it (its
// ModelInfer handler and ModelStreamInfer), with what its message holds
// of the server's budget: the codec reserves it before the message is
// copied, or sets refused and decodes nothing; the service answers a
// refused message with that error, and releases the lease once the
// request is answered, whatever path it took.
type inferMessage struct {
	pb.ModelInferRequest
	lease   inference.Lease
	refused error
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if call, ok := v.(*inferMessage); ok {
		return c.unmarshalCall(data, call)
	}
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal: %T is not a protobuf message", v)
	}
	if req, ok := m.(*pb.ModelInferRequest); ok {
		return unmarshalInfer(copyOf(data), req)
	}
	buf := data.MaterializeToBuffer(messageBuffers)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// copyOf is a buffer of data's own, which the garbage collector frees
// once the request and the tensors that alias it are gone: nothing has to
// give it back, on any path a call can take.
func copyOf(data mem.BufferSlice) []byte {
	buf := make([]byte, data.Len())
	data.CopyTo(buf)
	return buf
}

// unmarshalCall reserves the message's size before its copy is made, and
// what its tensors will take beyond it (decodedBytes) before they are
// decoded.
func (c codec) unmarshalCall(data mem.BufferSlice, call *inferMessage) error {
	call.lease = c.budget.Lease()
	n := int64(data.Len())
	if call.refused = call.lease.Grow(n); call.refused != nil {
		return nil
	}
	req := &call.ModelInferRequest
	if err := unmarshalInfer(copyOf(data), req); err != nil {
		call.lease.Release() // no call is made of it: nothing else would
		return err
	}
	call.refused = call.lease.Grow(decodedBytes(req))
	return nil
}

// decodedBytes is what the message's tensors take beyond the message
// itself, reserved before they are decoded: typed contents protobuf has
// already copied out, whose packed varints can be 8 bytes an element
// from one on the wire (and a 24-byte slice header for each bytes
// element, beside the 16-byte string the decoder makes of it), and the raw
// contents decoding copies: BYTES elements (at most one per 4 bytes, each a
// string header and its bytes) and FP16/BF16 (float32s, twice their size).
// Other raw contents are used where they lie.
func decodedBytes(req *pb.ModelInferRequest) int64 {
	var n int64
	for i, in := range req.Inputs {
		if c := in.GetContents(); c != nil {
			n += int64(len(c.BoolContents)) +
				4*int64(len(c.IntContents)+len(c.UintContents)+len(c.Fp32Contents)) +
				8*int64(len(c.Int64Contents)+len(c.Uint64Contents)+len(c.Fp64Contents))
			for _, b := range c.BytesContents {
				n += 24 + 16 + 2*int64(len(b))
			}
		}
		if i >= len(req.RawInputContents) {
			continue
		}
		switch raw := int64(len(req.RawInputContents[i])); in.GetDatatype() {
		case "BYTES":
			n += raw + raw/4*16
		case "FP16", "BF16":
			n += 2 * raw
		}
	}
	return n
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
