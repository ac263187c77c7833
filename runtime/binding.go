package runtime

import (
	"fmt"
	"slices"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// A binding is the ORT values of one run, made once and reused by later
// runs of the same input shapes. Making them per run costs, for every
// tensor, a cgo call to create it and one to release it, and the Go
// wrapper's allocations: for a small model (iris) more than ORT's run
// itself. A run copies its inputs into the bound ones and its outputs out
// of them (a memcpy, for the small tensors bindings are kept for), so
// nothing of a binding outlives the run that holds it; or, for a leased
// run (lease.go), returns the bound outputs themselves and stays with the
// caller until it releases them.
//
// Inputs and outputs a binding cannot hold are made per run as before:
// strings (ORT copies them in), half floats (encoded per run), rank-0
// inputs (onnxruntime_go's Scalar.Set swaps the Go slice, not what ORT
// reads) and outputs ORT allocates (no plan, planDynamic).
type binding struct {
	shapes [][]int64 // of the inputs
	batch  int
	bytes  int64
	ins    []ort.Value // bound, or nil: made per run
	outs   []ort.Value // bound, or nil: preallocated or left to ORT per run
	// outShapes are the bound outputs' shapes, which the outputs a run
	// returns share: nothing changes a result's shape in place.
	outShapes [][]int64
	// data are the bound outputs' Go slices, boxed once for the results
	// of leased runs (nil for a scalar, whose value ORT does not write
	// into Go memory); result is the slice those runs return.
	data   []any
	result []tensor.Tensor
	// io binds every value when all are bound: RunWithBinding then passes
	// ORT nothing per run, where Run marshals every value (allocating).
	io *ort.IoBinding
	// lastRun is how long the binding's previous run took in ORT, 0
	// before its first: what says whether the next is short (shortRun).
	lastRun time.Duration
	// runIns and runOuts are the values a run passes ORT: the bound ones
	// and those made for it, reused so that a run allocates no slices.
	runIns, runOuts []ort.Value
	// arena, when not nil, is the arena whose memory the binding's values
	// wrap (arena.go): the binding is taken and put back with it.
	arena *arena
}

// shortRun is how long a run may take and still not be watched for its
// context's end (model.go): a watch (context.AfterFunc, RunOptions,
// and Run's marshalling of every value, where an IoBinding has none)
// costs several allocations and cgo calls, more than a small model's
// whole run, and stopping a run shorter than this saves little. A client
// gone, or a deadline passed, before the run starts is still seen.
//
// Whether a run is short is judged by the binding's previous run, so a
// run slowed once (another process took the core) costs one watched run,
// not all later ones. A model whose run time depends on its data (a
// Loop's trip count) may have a long run follow a short one unwatched:
// that run goes on after its client has gone, as any run did before
// RunOptions' terminate existed, and takes its slot no longer than its
// client could have kept it by waiting.
const shortRun = time.Millisecond

// short reports whether b's previous run took under shortRun. The first
// run of a binding is watched, and measured.
func (b *binding) short() bool { return b.lastRun > 0 && b.lastRun < shortRun }

// ran records how long a run of b took. A run that failed, which may be
// one terminated early, says nothing of how long a whole one takes: the
// next is watched.
func (b *binding) ran(d time.Duration, err error) {
	if err != nil {
		d = shortRun
	}
	b.lastRun = d
}

// maxBindingBytes is the most tensor memory one binding holds. Past it a
// run's own ORT calls are a negligible part of the run, and a one-off
// large request must not pin its buffers for the model's lifetime.
const maxBindingBytes = 1 << 20

// bindings recycles a model's bindings, the most recently used last.
// Idle ones are bounded in number and in bytes; past either bound the
// least recently used goes.
type bindings struct {
	mu     sync.Mutex
	idle   []*binding
	bytes  int64 // of idle
	closed bool  // put destroys what comes back
	// rows, when not 0, makes the pool's bindings share memory by arena
	// (arena.go), each arena's buffers made for this many rows; arenas
	// are its idle ones, the most recently used last, and idle is unused.
	rows        int
	arenas      []*arena
	arenasBytes int64 // of arenas
}

// Idle bindings kept per model: enough for as many runs of one shape at
// once as a model gets on a machine of a few cores, or for a few shapes,
// at most maxIdleBindingBytes of memory.
const (
	maxIdleBindings     = 16
	maxIdleBindingBytes = 4 << 20
)

// take returns an idle binding for inputs, removed from the pool, or nil.
// From a pool of arenas, it also returns the arena taken (nil with a
// binding: the binding's), which a binding made for these inputs joins,
// and which must be put back (putArena) if none is.
func (p *bindings) take(inputs []tensor.Tensor, batch int) (*binding, *arena) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rows > 0 {
		n := len(p.arenas)
		if n == 0 {
			return nil, &arena{}
		}
		a := p.arenas[n-1]
		p.arenas = p.arenas[:n-1]
		p.arenasBytes -= a.bytes
		if b := a.find(inputs, batch); b != nil {
			return b, nil
		}
		return nil, a
	}
	for i := len(p.idle) - 1; i >= 0; i-- {
		if b := p.idle[i]; b.batch == batch && b.fits(inputs) {
			p.idle = slices.Delete(p.idle, i, i+1)
			p.bytes -= b.bytes
			return b, nil
		}
	}
	return nil, nil
}

// put makes b idle again, and destroys the least recently used binding
// when there are too many.
func (p *bindings) put(b *binding) {
	if b.arena != nil {
		p.putArena(b.arena)
		return
	}
	give(p, &p.idle, &p.bytes, b, maxIdleBindings)
}

// putArena makes a idle again, and destroys the least recently used arena
// past maxIdleArenas.
func (p *bindings) putArena(a *arena) { give(p, &p.arenas, &p.arenasBytes, a, maxIdleArenas) }

// give appends x to *idle, one of p's lists of idle bindings or arenas,
// whose bytes *bytes counts, and destroys the least recently used while
// there are more than most or they hold more than maxIdleBindingBytes
// (once p's lock is let go), or x itself once p is closed.
func give[T interface {
	size() int64
	destroy()
}](p *bindings, idle *[]T, bytes *int64, x T, most int) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		x.destroy()
		return
	}
	*idle = append(*idle, x)
	*bytes += x.size()
	var old []T
	for len(*idle) > most || *bytes > maxIdleBindingBytes {
		old = append(old, (*idle)[0])
		*bytes -= (*idle)[0].size()
		*idle = slices.Delete(*idle, 0, 1)
	}
	p.mu.Unlock()
	for _, x := range old {
		x.destroy()
	}
}

func (b *binding) size() int64 { return b.bytes }
func (a *arena) size() int64   { return a.bytes }

// close destroys every idle binding and arena; the caller guarantees none
// is in use.
func (p *bindings) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.idle {
		b.destroy()
	}
	for _, a := range p.arenas {
		a.destroy()
	}
	p.idle, p.arenas, p.bytes, p.arenasBytes, p.closed = nil, nil, 0, 0, true
}

func (b *binding) fits(inputs []tensor.Tensor) bool {
	for i := range inputs {
		if !slices.Equal(b.shapes[i], inputs[i].Shape) {
			return false
		}
	}
	return true
}

func (b *binding) destroy() {
	if b.io != nil {
		b.io.Destroy()
	}
	destroyAll(b.ins, false)
	destroyAll(b.outs, false)
}

// bindable reports whether an input of dtype d and this shape can be
// bound: a numeric tensor of rank 1 or more.
func bindableInput(d tensor.DType, shape []int64) bool {
	return ortTypes[d].ops != nil && len(shape) > 0
}

// newBinding makes the values for a run of s on inputs of these shapes,
// and its outputs plans preallocate at batch (outs and outShapes are in
// the session's output order), or returns nil when there is nothing
// worth binding or it would hold more than maxBindingBytes. With an
// arena, the values wrap the arena's buffers, made for rows rows.
func (m *Model) newBinding(s session, inputs []tensor.Tensor, plans []outputPlan, batch int, a *arena, rows int) (*binding, error) {
	n := s.count(m)
	// What it would hold, first: most runs that get no binding (strings,
	// large inputs) get none every time, and should not pay for one.
	var bytes int64
	bound := false
	for _, t := range inputs {
		if bindableInput(t.DType, t.Shape) {
			bytes += int64(tensor.NumElements(t.Shape) * t.DType.Size())
			bound = true
		}
	}
	for k := range n {
		d := m.Signature.Outputs[s.output(k)].DType
		if shape, ok := plans[s.output(k)].shape(batch); ok && ortTypes[d].ops != nil {
			bytes += int64(tensor.NumElements(shape) * d.Size())
			bound = true
		}
	}
	if !bound || bytes > maxBindingBytes {
		return nil, nil
	}
	b := &binding{shapes: make([][]int64, len(inputs)), batch: batch, bytes: bytes,
		ins: make([]ort.Value, len(inputs)), outs: make([]ort.Value, n), outShapes: make([][]int64, n),
		data: make([]any, n), result: make([]tensor.Tensor, len(m.Signature.Outputs)),
		runIns: make([]ort.Value, len(inputs)), runOuts: make([]ort.Value, n)}
	for i, t := range inputs {
		b.shapes[i] = slices.Clone(t.Shape)
	}
	var inBufs, outBufs []tensor.Tensor
	if a != nil {
		if a.ins == nil {
			a.ins, a.outs = make([]tensor.Tensor, len(inputs)), make([]tensor.Tensor, n)
		}
		inBufs, outBufs = a.ins, a.outs
	}
	for i, t := range inputs {
		if !bindableInput(t.DType, t.Shape) {
			continue
		}
		var most int
		if a != nil {
			most = tensor.NumElements(t.Shape) / max(batch, 1) * rows
		}
		v, err := newValue(a, inBufs, i, t.DType, t.Shape, most)
		if err != nil {
			b.destroy()
			return nil, err
		}
		b.ins[i] = v
	}
	for k := range n {
		d := m.Signature.Outputs[s.output(k)].DType
		shape, ok := plans[s.output(k)].shape(batch)
		if !ok || ortTypes[d].ops == nil {
			continue
		}
		var most int
		if a != nil {
			if full, ok := plans[s.output(k)].shape(rows); ok {
				most = tensor.NumElements(full)
			}
		}
		v, err := newValue(a, outBufs, k, d, shape, most)
		if err != nil {
			b.destroy()
			return nil, err
		}
		// Clipped: an append to a result's shape then copies it, rather
		// than writing into what every run of the binding returns.
		if len(shape) == 0 {
			shape = nil // a scalar's, as fromValue gives it
		}
		b.outs[k], b.outShapes[k] = v, slices.Clip(shape)
		if shape != nil {
			// A tensor's data is the Go slice ORT writes it in; a
			// scalar's is read per run.
			b.data[k], _, _ = ortTypes[d].ops.read(v)
		}
	}
	if !slices.Contains(b.ins, nil) && !slices.Contains(b.outs, nil) {
		if err := b.bindAll(m, s); err != nil {
			b.destroy()
			return nil, err
		}
	}
	return b, nil
}

// newValue makes a value of dtype d and this shape for a binding: over
// the first elements of the arena's buffer bufs[i] (made for most
// elements) when there is an arena whose buffer holds them, else of its
// own memory.
func newValue(a *arena, bufs []tensor.Tensor, i int, d tensor.DType, shape []int64, most int) (ort.Value, error) {
	if a != nil && len(shape) > 0 {
		if data := a.buffer(bufs, i, d, tensor.NumElements(shape), most); data != nil {
			return ortTypes[d].ops.wrap(shape, data)
		}
	}
	return ortTypes[d].ops.preallocate(shape)
}

func (b *binding) bindAll(m *Model, s session) (err error) {
	if b.io, err = s.ort.CreateIoBinding(); err != nil {
		return err
	}
	for i, v := range b.ins {
		if err := b.io.BindInput(m.Signature.Inputs[i].Name, v); err != nil {
			return fmt.Errorf("input %s: %w", m.Signature.Inputs[i].Name, err)
		}
	}
	for k, v := range b.outs {
		name := m.Signature.Outputs[s.output(k)].Name
		if err := b.io.BindOutput(name, v); err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
	}
	return nil
}
