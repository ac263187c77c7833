package sizeclass

import "testing"

// TestClasses pins the size classes: every size up to Max gets the
// smallest class that holds it, at most a quarter larger (or Min), and a
// class's own size is in that class.
func TestClasses(t *testing.T) {
	sizes := []int{0, 1, Min - 1, Min, Min + 1, 5 << 10, 5<<10 + 1, 100403 + 128, 500 << 10, Max - 1, Max}
	for n := 1; n <= Max; n = n*9/8 + 1 {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		c := Of(n)
		size := Size(c)
		if c < 0 || size < n || size > max(Min, n+n/4) || (c > 0 && Size(c-1) >= n) {
			t.Errorf("%d bytes: class %d of %d bytes", n, c, size)
		}
		if Round(n) != size {
			t.Errorf("Round(%d) = %d, want its class's %d", n, Round(n), size)
		}
	}
	for c := range Count {
		if got := Of(Size(c)); got != c {
			t.Errorf("class %d's size %d is in class %d", c, Size(c), got)
		}
	}
	if Size(Count-1) != Max || Of(Max+1) != -1 || Round(Max+1) != Max+1 {
		t.Errorf("the largest class is %d bytes, want %d and none past it", Size(Count-1), Max)
	}
}

// TestPool pins what a pool hands back: a slice of the size asked for or
// at most about twice it (never a 500 KB one for 100 KB, nor for 200
// bytes), of no length; one that Make made for a size, for the next
// request of that size; and nothing smaller than Min or over the Limit.
func TestPool(t *testing.T) {
	var p Pool[float32]
	for range 8 {
		big := make([]float32, 0, 125<<10) // 500 KiB
		p.Put(&big)
		huge := make([]float32, 0, DefaultLimit/4+1)
		p.Put(&huge)
	}
	for _, n := range []int{0, 50, 25 << 10} {
		if b, ok := p.Get(n); ok && (cap(*b) < n || 4*cap(*b) > 2*max(4*n, Min)) {
			t.Errorf("Get(%d): cap %d", n, cap(*b))
		}
	}
	reused := false
	// sync.Pool drops some of what it is given under the race detector.
	for range 20 {
		if b, ok := p.Get(25088); ok && cap(*b) >= 25088 && len(*b) == 0 {
			reused = true
			break
		}
		b := Make[float32](25088, 25088)
		p.Put(&b)
	}
	if !reused {
		t.Error("a slice Make made for 25088 floats was never given to the next request for as many")
	}
	tiny := make([]float32, 0, Min/4-1)
	p.Put(&tiny)
	if b, ok := p.Get(1); ok && cap(*b) < Min/4 {
		t.Errorf("a %d-byte slice, under Min, came back", 4*cap(*b))
	}
}

// TestPoolLimit pins a pool's Limit: a pool of 32 MiB (gRPC's messages)
// makes a 20 MiB buffer at its class's size and recycles it; the default
// pool (bodies, tensors) makes it exactly as asked, uncounted memory
// being no use to a pool that will not keep it, and drops it.
func TestPoolLimit(t *testing.T) {
	const n = 20 << 20
	limited := Pool[byte]{Limit: Max}
	if b := limited.Make(0, n); cap(b) != Round(n) {
		t.Errorf("a 32 MiB pool made %d bytes for %d, want its class's %d", cap(b), n, Round(n))
	}
	if b := Make[byte](0, n); cap(b) != n {
		t.Errorf("Make made %d bytes for %d past DefaultLimit, want exactly %d", cap(b), n, n)
	}
	reused := false
	// sync.Pool drops some of what it is given under the race detector.
	for range 20 {
		b := limited.Make(0, n)
		limited.Put(&b)
		if got, ok := limited.Get(n); ok && cap(*got) >= n {
			reused = true
			break
		}
	}
	if !reused {
		t.Error("a 32 MiB pool never gave a 20 MiB buffer back")
	}
	var def Pool[byte]
	for range 4 {
		b := limited.Make(0, n)
		def.Put(&b)
		if _, ok := def.Get(n); ok {
			t.Fatal("a pool of the default limit recycled a 20 MiB buffer")
		}
	}
}
