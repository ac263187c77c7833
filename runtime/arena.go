package runtime

import (
	"slices"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// An arena is the memory of a batcher's merged runs, shared by its
// bindings of every batch size. Merged runs vary in size from run to run
// (under load anything from 2 rows to max_batch_size), so bindings of
// their own memory filled the pool's bounds with one per size: 850 KB of
// the MLP's rows kept idle after a load (a heap profile), where one run
// needs 100 KB at most. An arena's bindings wrap the first elements of its
// buffers, made once for the pool's rows, so only one of them may be in
// use at a time: a run takes the whole arena with the binding, and the
// pool keeps as many arenas as runs of the model go on at once.
type arena struct {
	// ins and outs are per input and per session output: the flat
	// element buffers that bindings wrap a prefix of, of no dtype until a
	// binding needs one.
	ins, outs []tensor.Tensor
	// binds are the arena's bindings, one per batch size (and input
	// shapes), the most recently used last.
	binds []*binding
	bytes int64 // of ins and outs
}

// Bounds of the arenas a pool keeps: bindings per arena (each a few ORT
// values and an IoBinding, no tensor memory of its own), and idle
// arenas, as many as a model's runs at once on a machine of a few cores.
const (
	maxArenaBindings = 64
	maxIdleArenas    = 4
)

// buffer returns the first n elements of bufs[i], which it makes for
// most elements the first time (no more than a binding may hold), or nil
// when that buffer is too small for n (shapes past dim 0 that differ from
// the first run's): the value is then made of its own memory.
func (a *arena) buffer(bufs []tensor.Tensor, i int, d tensor.DType, n, most int) any {
	if bufs[i].DType == tensor.Invalid {
		size := max(n, min(most, maxBindingBytes/d.Size()))
		bufs[i] = tensor.Tensor{DType: d, Shape: []int64{int64(size)}, Data: tensor.NewBuffer(d, size)}
		a.bytes += int64(size * d.Size())
	}
	if bufs[i].DType != d || bufs[i].Shape[0] < int64(n) {
		return nil
	}
	return bufs[i].Rows(0, n).Data
}

// find returns the arena's binding for inputs at batch, marked most
// recently used, or nil.
func (a *arena) find(inputs []tensor.Tensor, batch int) *binding {
	for i := len(a.binds) - 1; i >= 0; i-- {
		if b := a.binds[i]; b.batch == batch && b.fits(inputs) {
			a.binds = append(slices.Delete(a.binds, i, i+1), b)
			return b
		}
	}
	return nil
}

// add makes b one of the arena's bindings, destroying the least recently
// used past maxArenaBindings.
func (a *arena) add(b *binding) {
	b.arena = a
	a.binds = append(a.binds, b)
	if len(a.binds) > maxArenaBindings {
		a.binds[0].destroy()
		a.binds = slices.Delete(a.binds, 0, 1)
	}
}

func (a *arena) destroy() {
	for _, b := range a.binds {
		b.destroy()
	}
	a.binds = nil
}
