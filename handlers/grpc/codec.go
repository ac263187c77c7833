package grpc

import (
	"fmt"
	"math/bits"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// The server's message buffers and codec. gRPC's own pool has no size
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
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}
