package rest

import (
	"math/bits"
	"sync"

	"github.com/gin-gonic/gin"
)

// Buffers recycles the byte buffers of request bodies and of the responses
// written into them: a batch of 32 MLP rows is 100 KB, fresh garbage on
// every request otherwise. The zero value is ready to use.
//
// Buffers are kept by size class, so that a request takes one about its
// size: from one pool for every size, a server that has just read 500 KB
// bodies for one model hands them to 100 KB bodies, 227-byte answers and
// 4-float iris rows of the next until the GC clears the pool, which it
// never does while requests keep putting them back (measured: 13 MB live
// where 3 would do, under the v2 binary MLP load after the JSON one).
type Buffers struct {
	classes [numClasses]sync.Pool
}

// The classes: minBuf, then four sizes in each doubling up to
// maxPooledBuf (5, 6, 7 and 8 KiB, 10, 12, 14 and 16 KiB, ...), so that a
// buffer is at most a quarter larger than what it was taken for.
const (
	minBufShift   = 12 // 4 KiB: the smallest buffer made
	minBuf        = 1 << minBufShift
	maxPooledBuf  = 4 << 20 // keeps one huge body or response from pinning its buffer for good
	classesPerDup = 4
	numClasses    = 1 + classesPerDup*(22-minBufShift) // 22: log2(maxPooledBuf)
)

// classOf is the smallest class whose size is at least n, or -1 past
// maxPooledBuf.
func classOf(n int) int {
	switch {
	case n <= minBuf:
		return 0
	case n > maxPooledBuf:
		return -1
	}
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	return (k-minBufShift)*classesPerDup + (n-1-1<<k)>>(k-2) + 1
}

// classSize is the capacity of class c's buffers.
func classSize(c int) int {
	if c == 0 {
		return minBuf
	}
	k := (c-1)/classesPerDup + minBufShift
	return 1<<k + ((c-1)%classesPerDup+1)<<(k-2)
}

// roundCap is the capacity to make a buffer of at least n bytes with: its
// class's size, so that the pool can give it to a later request of about
// the same size, or n itself past the largest class.
func roundCap(n int) int {
	if c := classOf(n); c >= 0 {
		return classSize(c)
	}
	return n
}

// Get returns an empty buffer of capacity at least n; Put it back once
// nothing uses its bytes. A recycled one may be up to twice n: an answer
// whose size a front end can only guess (n) grows past its class, and is
// then found one doubling up.
func (p *Buffers) Get(n int) *[]byte {
	c := classOf(n)
	if c < 0 {
		b := make([]byte, 0, n)
		return &b
	}
	for k := c; k < min(c+classesPerDup+1, numClasses); k++ {
		if b, ok := p.classes[k].Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, 0, classSize(c))
	return &b
}

// ForBody returns an empty buffer for c's request body: a recycled one
// that holds the declared Content-Length (and Slack twice: /v2 aligns its
// binary data in it), or a new one of what ReadBody would reserve first.
// It makes no buffer of the declared size up front: a client can declare
// 32 MiB and send nothing.
func (p *Buffers) ForBody(c *gin.Context, limit int64) *[]byte {
	n := c.Request.ContentLength
	if n < 0 || n > limit {
		return p.Get(minBuf)
	}
	want := int(n) + 2*Slack
	if k := classOf(want); k >= 0 {
		if b, ok := p.classes[k].Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, 0, roundCap(min(want, firstRead)))
	return &b
}

// Put recycles b, in the largest class its capacity holds; nothing may
// use its bytes afterwards.
func (p *Buffers) Put(b *[]byte) {
	n := cap(*b)
	if n < minBuf || n > maxPooledBuf {
		return
	}
	c := classOf(n)
	if classSize(c) > n {
		c--
	}
	*b = (*b)[:0]
	p.classes[c].Put(b)
}
