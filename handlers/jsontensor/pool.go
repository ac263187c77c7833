package jsontensor

import (
	"sync"

	"github.com/onnxserve/onnxserve/handlers/sizeclass"
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

// A bufferPool holds buffers by size class (handlers/sizeclass), so that
// a column takes one about its size, and by pointer, as sync.Pool needs
// (a slice put in an interface is an allocation), recycling the pointers
// too, in holders: put is given a bare slice, and taking a new pointer
// for it per request would be an allocation per request.
type bufferPool[T any] struct {
	p       sizeclass.Pool[T]
	holders sync.Pool
}

// get returns an empty recycled buffer with room for n elements, or nil.
func (p *bufferPool[T]) get(n int) []T {
	h, ok := p.p.Get(n)
	if !ok {
		return nil
	}
	b := *h
	*h = nil
	p.holders.Put(h)
	return b
}

func (p *bufferPool[T]) put(b []T) {
	if !p.p.Holds(b) {
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
