//go:build !amd64 || purego

package jsontensor

// vectorized is false where there is no vector32s: fast32s reads every
// number a word at a time.
const vectorized = false

func vector32s(b []byte, i, limit uint, dst []float32) (k int, at uint, end bool) {
	panic("jsontensor: vector32s without vectorized")
}
