package handlers

import "sync"

// bufPool recycles the byte buffers of request bodies (/v1 and /v2) and of
// the responses written into them: a batch of 32 MLP rows is 100 KB, fresh
// garbage on every request otherwise. It holds *[]byte, so that putting a
// buffer back allocates nothing.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuf keeps one huge body or response from pinning its buffer for good.
const maxPooledBuf = 4 << 20

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// putBuf recycles b; nothing may use its bytes afterwards.
func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
