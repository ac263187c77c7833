package inference

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Budget bounds the bytes that the requests in flight hold, server-wide
// and across protocols: their bodies (or gRPC messages) and the tensors
// decoded from them. A request reserves what it is about to hold before it
// holds it and gives it all back when it ends; one that would take the
// total past the limit is refused at once, Overloaded, instead of taking
// the memory: the queue bound (runtime/admit.go) counts requests waiting
// for a model, this counts what they hold, read or waiting. It is the one
// place that rule lives; the front ends only say how much.
//
// A reservation is one atomic add; refusing one costs a second, and an
// error.
type Budget struct {
	limit int64 // 0: no bound, only the count
	held  atomic.Int64
}

// budgetRetryAfter is what a client refused for memory is told to wait:
// bodies in flight are read, run and released within about that.
const budgetRetryAfter = time.Second

// NewBudget returns a budget of limit bytes; 0 or less counts what is
// held without bounding it.
func NewBudget(limit int64) *Budget { return &Budget{limit: max(limit, 0)} }

// Limit is the bound, 0 for none.
func (b *Budget) Limit() int64 { return b.limit }

// Held is how many bytes the requests in flight hold now.
func (b *Budget) Held() int64 { return b.held.Load() }

// reserve takes n more bytes for a request that will then hold whole in
// all, or refuses: Overloaded with RetryAfter when the total would pass
// the limit, ResourceExhausted when whole alone does (no wait would make
// room for it).
func (b *Budget) reserve(n, whole int64) error {
	if n <= 0 {
		return nil
	}
	if b.held.Add(n) <= b.limit || b.limit == 0 {
		return nil
	}
	b.held.Add(-n)
	if whole > b.limit {
		return Errorf(ResourceExhausted, "the request needs %d bytes, more than the server's --max-inflight-bytes (%d) holds for all requests at once", whole, b.limit)
	}
	return &Error{Kind: Overloaded, RetryAfter: budgetRetryAfter,
		Message: fmt.Sprintf("the server holds as many request bytes as it may (--max-inflight-bytes %d): retry later", b.limit)}
}

// Lease is what one request holds of a Budget: a value on the request's
// stack, grown as the request takes memory and given back whole by
// Release. The zero Lease (no budget) takes and refuses nothing.
type Lease struct {
	b *Budget
	n int64
}

// Lease starts a request's lease on b; b may be nil.
func (b *Budget) Lease() Lease { return Lease{b: b} }

// Grow reserves n more bytes for the request, or refuses as reserve does,
// holding what it held before.
func (l *Lease) Grow(n int64) error {
	if l.b == nil {
		return nil
	}
	if err := l.b.reserve(n, l.n+max(n, 0)); err != nil {
		return err
	}
	l.n += max(n, 0)
	return nil
}

// Cover reserves what it takes for the lease to hold at least n bytes in
// all: for a buffer that grows, Cover(cap) before each growth.
func (l *Lease) Cover(n int64) error {
	if n <= l.n {
		return nil
	}
	return l.Grow(n - l.n)
}

// Held is how many bytes the lease holds.
func (l *Lease) Held() int64 { return l.n }

// Release gives back everything the lease holds; the lease can grow again
// afterwards.
func (l *Lease) Release() {
	if l.b != nil && l.n > 0 {
		l.b.held.Add(-l.n)
	}
	l.n = 0
}

// TensorBytes is the memory the tensors' elements take: what a request
// holds once it has decoded them into buffers of their own.
func TensorBytes(ts []tensor.Tensor) int64 {
	var n int64
	for i := range ts {
		t := &ts[i]
		if s, ok := t.Data.([]string); ok {
			for _, e := range s {
				n += int64(len(e)) + int64(unsafe.Sizeof(e))
			}
			continue
		}
		n += int64(t.Len()) * int64(t.DType.Size())
	}
	return n
}

// CopiedBytes is what the tensors decoded from body take beyond body
// itself: binary tensors used where they lie in it take nothing more, but
// JSON tensors, strings and half floats (float32s, twice their size) are
// made anew, as is a tensor whose bytes could not be used in place.
func CopiedBytes(ts []tensor.Tensor, body []byte) int64 {
	var n int64
	for i := range ts {
		if mem, ok := ts[i].Memory(); ok && inside(mem, body) {
			continue
		}
		n += TensorBytes(ts[i : i+1])
	}
	return n
}

// inside says whether b lies in outer's memory.
func inside(b, outer []byte) bool {
	if len(b) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(outer)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return lo != 0 && p >= lo && p+uintptr(len(b)) <= lo+uintptr(cap(outer))
}
