package tensor

import "unsafe"

// elemOps are the operations on a tensor's data that depend only on the Go
// element type: one generic implementation, instantiated once per dtype in
// the dtype table, so that callers neither switch over types nor reflect.
type elemOps interface {
	make(n int) any
	holds(data any) bool
	len(data any) int
	slice(data any, i, j int) any
	// concat copies the data of parts end to end into dst, reused when it
	// has the right type and room for n elements, and returns the buffer.
	concat(dst any, n int, parts []Tensor) any
	// memory is data's bytes, in place; false when the Go representation
	// is not the raw little-endian one (strings, maps, half floats).
	memory(data any) ([]byte, bool)
	// view is raw as data, in place when raw is aligned for the element
	// type, else copied; raw's length must be a multiple of the width.
	view(raw []byte) any
}

type sliceOps[T any] struct {
	// raw: the Go slice's bytes are the raw layout, on a little-endian
	// machine, so memory and view may be used.
	raw bool
}

func (sliceOps[T]) make(n int) any { return make([]T, n) }

func (sliceOps[T]) holds(data any) bool {
	_, ok := data.([]T)
	return ok
}

func (sliceOps[T]) len(data any) int {
	s, _ := data.([]T)
	return len(s)
}

func (sliceOps[T]) slice(data any, i, j int) any { return data.([]T)[i:j:j] }

func (sliceOps[T]) concat(dst any, n int, parts []Tensor) any {
	buf, _ := dst.([]T)
	if cap(buf) < n {
		buf = make([]T, n)
	}
	buf = buf[:n]
	off := 0
	for _, p := range parts {
		off += copy(buf[off:], p.Data.([]T))
	}
	return buf
}

func (o sliceOps[T]) memory(data any) ([]byte, bool) {
	s, ok := data.([]T)
	if !o.raw || !ok || !nativeLE {
		return nil, false
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero))), true
}

func (o sliceOps[T]) view(raw []byte) any {
	var zero T
	size := int(unsafe.Sizeof(zero))
	n := len(raw) / size
	if n == 0 {
		return []T{} // not nil: that could pass for a missing input
	}
	if p := unsafe.Pointer(unsafe.SliceData(raw)); uintptr(p)%unsafe.Alignof(zero) == 0 {
		return unsafe.Slice((*T)(p), n)[:n:n] // cap n: an append never writes into raw
	}
	s := make([]T, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), n*size), raw)
	return s
}
