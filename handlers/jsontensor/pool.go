package jsontensor

import (
	"sync"
	"unsafe"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// The dtypes clients send in bulk are decoded into recycled buffers: a
// 32-row MLP request is 100 KB of float32 that would otherwise be fresh
// garbage, zeroed first, on every request. Release returns them.
var (
	float32Bufs bufferPool[float32]
	float64Bufs bufferPool[float64]
	int64Bufs   bufferPool[int64]
)

// maxPooledBytes keeps one huge request from pinning its buffer for good.
const maxPooledBytes = 4 << 20

// A bufferPool holds buffers by pointer, as sync.Pool needs (a slice put
// in an interface is an allocation), and recycles the pointers too, in
// holders: put is given a bare slice, and taking a new pointer for it
// per request would be an allocation per request.
type bufferPool[T any] struct{ p, holders sync.Pool }

func (p *bufferPool[T]) get() []T {
	h, ok := p.p.Get().(*[]T)
	if !ok {
		return nil
	}
	b := (*h)[:0]
	*h = nil
	p.holders.Put(h)
	return b
}

func (p *bufferPool[T]) put(b []T) {
	if cap(b) == 0 || cap(b)*int(unsafe.Sizeof(b[:1][0])) > maxPooledBytes {
		return
	}
	h, ok := p.holders.Get().(*[]T)
	if !ok {
		h = new([]T)
	}
	*h = b[:0]
	p.p.Put(h)
}

// Release recycles the buffers of tensors that columns returned. ONNX
// Runtime reads them in place, so call it only once nothing reads them any
// more: after Infer has returned.
func Release(ts []tensor.Tensor) {
	for _, t := range ts {
		switch d := t.Data.(type) {
		case []float32:
			float32Bufs.put(d)
		case []float64:
			float64Bufs.put(d)
		case []int64:
			int64Bufs.put(d)
		}
	}
}
