// Package sizeclass recycles the front ends' buffers by size: request
// bodies and answers (handlers/rest), decoded tensors (handlers/jsontensor).
// From one pool for every size, a server that has just served 500 KB
// bodies or 25,088-float tensors for one model lends them to the 100 KB
// bodies, 200-byte answers and 4-float rows of the next, for as long as
// requests keep putting them back, which is as long as the load lasts
// (measured: 13 MB live under the v2 binary MLP load after the JSON one,
// where 3 would do). Here a buffer is taken about its size.
package sizeclass

import (
	"math/bits"
	"sync"
	"unsafe"
)

// The classes: Min bytes, then four sizes in each doubling up to Max (5,
// 6, 7 and 8 KiB, 10, 12, 14 and 16 KiB, ...), so that a buffer is at
// most a quarter larger than what it was made for.
const (
	minShift = 12
	maxShift = 25
	perDup   = 4
	// Min is the smallest buffer made, in bytes: smaller ones are not
	// worth recycling.
	Min = 1 << minShift
	// Max is the largest class: 32 MiB, the default --max-body-bytes.
	Max = 1 << maxShift
	// Count is the number of classes.
	Count = 1 + perDup*(maxShift-minShift)
	// DefaultLimit is the largest buffer a Pool recycles unless told
	// otherwise: one huge request must not pin its buffer for good.
	DefaultLimit = 4 << 20
)

// Of is the smallest class whose size is at least n bytes, or -1 past Max.
func Of(n int) int {
	switch {
	case n <= Min:
		return 0
	case n > Max:
		return -1
	}
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	return (k-minShift)*perDup + (n-1-1<<k)>>(k-2) + 1
}

// Size is the capacity in bytes of class c's buffers.
func Size(c int) int {
	if c == 0 {
		return Min
	}
	k := (c-1)/perDup + minShift
	return 1<<k + ((c-1)%perDup+1)<<(k-2)
}

// Round is the capacity in bytes to make a buffer of at least n bytes
// with: its class's size, so that a later request of about the same size
// can be given it, or n itself past Max.
func Round(n int) int {
	if c := Of(n); c >= 0 {
		return Size(c)
	}
	return n
}

// Make returns a slice of length n whose capacity, at least most
// elements, is rounded up to its class when a pool of DefaultLimit would
// recycle it: past that, rounding would only take memory nobody counts.
func Make[T any](n, most int) []T { return makeUpTo[T](n, most, DefaultLimit) }

// Make is the package's Make for slices up to p's Limit.
func (p *Pool[T]) Make(n, most int) []T { return makeUpTo[T](n, most, p.limit()) }

func makeUpTo[T any](n, most, limit int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if bytes := most * size; bytes <= limit {
		most = Round(bytes) / size
	}
	return make([]T, n, most)
}

// Pool recycles slices of T by the class of their capacity in bytes. The
// zero value is ready to use.
type Pool[T any] struct {
	classes [Count]sync.Pool
	// Limit is the largest buffer recycled, in bytes, at most Max; 0 is
	// DefaultLimit.
	Limit int
}

// Holds reports whether Put keeps a slice of b's capacity.
func (p *Pool[T]) Holds(b []T) bool {
	var zero T
	n := cap(b) * int(unsafe.Sizeof(zero))
	return n >= Min && n <= p.limit()
}

func (p *Pool[T]) limit() int {
	if p.Limit == 0 {
		return DefaultLimit
	}
	return min(p.Limit, Max)
}

// Get returns a recycled slice with room for at least n elements, empty,
// or false. It may be up to twice n: one that grew past the class it was
// taken for (an answer whose size was guessed short) is found one
// doubling up.
func (p *Pool[T]) Get(n int) (*[]T, bool) {
	var zero T
	bytes := n * int(unsafe.Sizeof(zero))
	c := Of(bytes)
	if c < 0 || bytes > p.limit() {
		return nil, false
	}
	for k := c; k < min(c+perDup+1, Count); k++ {
		if b, ok := p.classes[k].Get().(*[]T); ok {
			*b = (*b)[:0]
			return b, true
		}
	}
	return nil, false
}

// Put recycles b in the largest class its capacity holds, or drops it
// when it is smaller than Min or larger than the pool's Limit; nothing
// may use its elements afterwards.
func (p *Pool[T]) Put(b *[]T) {
	if !p.Holds(*b) {
		return
	}
	var zero T
	n := cap(*b) * int(unsafe.Sizeof(zero))
	c := Of(n)
	if Size(c) > n {
		c--
	}
	p.classes[c].Put(b)
}
