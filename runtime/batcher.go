package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// batcher merges concurrent requests for one model version into one run
// (config dynamic_batching). Requests wait in a queue that the model's
// admission gate bounds; whenever a run slot is free, the queued requests
// whose non-batch dims agree with the oldest one are concatenated along
// dim 0, run once, and each gets its own rows of every output back. While
// a run holds the slot, the next batch fills by itself, so under load
// batches grow without any deliberate delay; max_queue_delay_us adds one
// for light traffic. A request whose context ends while queued is dropped
// unrun; one whose context ends during a merged run is answered at once
// with its context's error, and the run goes on for the others, or is
// stopped once every member has gone.
type batcher struct {
	m         *Model
	max       int // the model's max_batch_size: the most rows one run merges
	delay     time.Duration
	preferred []int

	mu    sync.Mutex
	queue []*pending // oldest first

	wake chan struct{} // capacity 1: the queue grew
	ctx  context.Context
	stop context.CancelFunc
	done chan struct{}
	// running counts the batches being run. A member whose context ends
	// leaves a merged run once its inputs are copied, so its model may be
	// released, and closed, while the run goes on for the others: close
	// waits for them before the sessions and bindings they use go.
	running sync.WaitGroup
	// scratch recycles the merged input buffers, which can be large
	// (32×784 floats) and would otherwise be garbage after every run.
	scratch sync.Pool
	// binds recycles the merged runs' bindings, by arena (arena.go): their
	// sizes vary from run to run.
	binds *bindings
}

// pending is one request in the queue.
type pending struct {
	ctx    context.Context
	inputs []tensor.Tensor
	// outputs are those the request asks for (Model.InferOutputs): a run
	// of the request alone computes only them, once their session is
	// made; a merged run computes every output, as its members may each
	// ask for others.
	outputs []int
	rows    int
	queued  time.Time
	// started is when the run of the batch that took the request began,
	// set before the request is answered or may leave it.
	started time.Time
	taken   bool // under batcher.mu: in a batch, or dropped; no longer in the queue (see unqueue)
	// copied, set under batcher.mu when a batch of more than one takes
	// the request, is closed once the merged inputs are copied: from then
	// on nothing reads the request's own, and it may leave the run. Nil
	// for a request that runs alone, on its own inputs.
	copied chan struct{}
	result chan batchResult
}

type batchResult struct {
	outs []tensor.Tensor
	err  error
	run  Run // the run that served the request, for its Stats
}

// checkBatchable refuses dynamic batching for a model whose requests cannot
// be merged and split: every input must be batched along dim 0 and every
// output must have the batch as dim 0 and fixed other dims (as its warm-up
// runs proved), or there is no telling which output rows are whose.
func (m *Model) checkBatchable() error {
	for _, in := range m.Signature.Inputs {
		if len(in.Shape) == 0 || in.Shape[0] != -1 {
			return fmt.Errorf("input %q has shape %s: every input needs a dynamic dim 0 to merge requests along", in.Name, tensor.FormatShape(in.Shape))
		}
	}
	for i, out := range m.Signature.Outputs {
		if m.outputs[i].mode != planBatch {
			return fmt.Errorf("output %q (%v %s) cannot be split back per request: it needs the batch as dim 0 and fixed other dims", out.Name, out.DType, tensor.FormatShape(out.Shape))
		}
	}
	return nil
}

func newBatcher(m *Model) *batcher {
	cfg := m.Config.DynamicBatching
	ctx, stop := context.WithCancel(context.Background())
	b := &batcher{
		m: m, max: m.Config.MaxBatchSize, delay: time.Duration(cfg.MaxQueueDelayUS) * time.Microsecond,
		preferred: cfg.PreferredBatchSizes, wake: make(chan struct{}, 1),
		ctx: ctx, stop: stop, done: make(chan struct{}),
		binds: &bindings{rows: m.Config.MaxBatchSize},
	}
	go b.loop()
	return b
}

// close stops the loop. The repository's reference counts mean nothing is
// queued by then; should anything be, it is answered rather than left
// waiting forever.
func (b *batcher) close() {
	b.stop()
	<-b.done
	b.running.Wait()
	b.binds.close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.queue {
		b.unqueue(p)
		p.result <- batchResult{err: ErrClosed}
	}
	b.queue = nil
}

// unqueue marks p as no longer queued, under b.mu, and lets the admission
// gate count it out: a request counts against max_queue_size until a
// batch takes it, it is dropped, or it leaves.
func (b *batcher) unqueue(p *pending) {
	p.taken = true
	b.m.admit.leave()
}

// infer queues inputs and waits for their rows of the merged run.
func (b *batcher) infer(ctx context.Context, inputs []tensor.Tensor, outputs []int) ([]tensor.Tensor, error) {
	p := &pending{ctx: ctx, inputs: inputs, outputs: outputs, rows: b.m.Batch(inputs), queued: time.Now(), result: make(chan batchResult, 1)}
	if err := b.m.admit.enter(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	select {
	case r := <-p.result:
		p.record(r.run)
		return r.outs, r.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if !p.taken {
		// Still queued: leave unrun.
		b.queue = slices.DeleteFunc(b.queue, func(q *pending) bool { return q == p })
		b.unqueue(p)
		b.mu.Unlock()
		return nil, ctx.Err()
	}
	copied := p.copied
	b.mu.Unlock()
	if copied == nil {
		// Alone in a run on these very inputs, which ctx stops: the
		// caller may recycle them once we return, so wait for it.
		r := <-p.result
		p.record(r.run)
		return r.outs, r.err
	}
	// In a merged run: answered now, once the merge no longer reads the
	// inputs (it copies them as the run begins); the run's rows for this
	// request are never read.
	<-copied
	p.record(Run{})
	return nil, ctx.Err()
}

func (b *batcher) loop() {
	defer close(b.done)
	for {
		select {
		case <-b.wake:
		case <-b.ctx.Done():
			return
		}
		for b.queued() > 0 {
			if !b.waitForRows() {
				return
			}
			// The slot is taken before the batch is: requests that arrive
			// while the previous run finishes still make this batch.
			if err := b.m.limiter.Acquire(b.ctx); err != nil {
				return
			}
			// Let the goroutines that are runnable now (handlers about to
			// queue, clients just handed their results) run first. Without
			// this, the wake-up of the loop preempts them and every free
			// slot runs a batch of one; with it, batches fill on a busy
			// core with no deliberate delay.
			goruntime.Gosched()
			batch := b.take()
			if len(batch) == 0 {
				b.m.limiter.Release()
				continue
			}
			b.running.Go(func() { b.execute(batch) })
		}
	}
}

func (b *batcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// waitForRows waits, when max_queue_delay_us is set, until the oldest
// request has waited that long or enough rows are queued to fill a batch
// (max_batch_size, or the largest preferred size). False when stopped.
func (b *batcher) waitForRows() bool {
	if b.delay <= 0 {
		return true
	}
	enough := b.max
	if n := len(b.preferred); n > 0 {
		enough = b.preferred[n-1]
	}
	for {
		b.mu.Lock()
		rows, oldest := 0, time.Time{}
		if len(b.queue) > 0 {
			oldest = b.queue[0].queued
			for _, p := range b.queue {
				if sameTail(p, b.queue[0]) {
					rows += p.rows
				}
			}
		}
		b.mu.Unlock()
		wait := time.Until(oldest.Add(b.delay))
		if rows == 0 || rows >= enough || wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-b.wake:
		case <-t.C:
		case <-b.ctx.Done():
			t.Stop()
			return false
		}
		t.Stop()
	}
}

// take removes the next batch from the queue: the oldest request and, in
// order, the later ones whose non-batch dims agree with it, up to
// max_batch_size rows, cut to the largest preferred size that fits. A
// request over the maximum runs alone: handlers/inference refuses one, but
// runtime itself does not check a request's batch. Requests whose context
// has ended are dropped unrun.
func (b *batcher) take() []*pending {
	b.mu.Lock()
	defer b.mu.Unlock()
	var batch []*pending
	rows := 0
	rest := b.queue[:0]
	for _, p := range b.queue {
		switch {
		case p.ctx.Err() != nil:
			b.unqueue(p)
			p.result <- batchResult{err: p.ctx.Err()}
			continue
		case len(batch) == 0:
		case batch[0].rows > b.max || rows+p.rows > b.max || !sameTail(p, batch[0]):
			rest = append(rest, p)
			continue
		}
		batch = append(batch, p)
		rows += p.rows
	}
	if len(batch) > 1 {
		if want := b.preferredSize(rows); want < rows {
			for rows > want && len(batch) > 1 {
				last := batch[len(batch)-1]
				batch = batch[:len(batch)-1]
				rows -= last.rows
				rest = append(rest, last)
			}
			slices.SortStableFunc(rest, func(x, y *pending) int { return x.queued.Compare(y.queued) })
		}
	}
	var copied chan struct{}
	if len(batch) > 1 {
		copied = make(chan struct{})
	}
	for _, p := range batch {
		b.unqueue(p)
		p.copied = copied
	}
	clear(b.queue[len(rest):])
	b.queue = rest
	return batch
}

// preferredSize is the largest preferred batch size up to rows, or rows
// when there is none.
func (b *batcher) preferredSize(rows int) int {
	best := rows
	for _, n := range b.preferred {
		if n <= rows {
			best = n
		}
	}
	return best
}

// sameTail reports whether two requests' inputs agree in every dim but
// the batch, so that they can be concatenated.
func sameTail(p, q *pending) bool {
	for i := range p.inputs {
		if !slices.Equal(p.inputs[i].Shape[1:], q.inputs[i].Shape[1:]) {
			return false
		}
	}
	return true
}

// execute runs one batch, holding the run slot take's caller acquired, and
// hands every request its result.
func (b *batcher) execute(batch []*pending) {
	defer b.m.limiter.Release()
	start := time.Now()
	for _, p := range batch {
		p.started = start // read by p's request once it is answered or has left
	}
	if len(batch) == 1 {
		// Nothing to merge: run the request's own buffers, under its own
		// context so that a long run stops when its client goes.
		p := batch[0]
		run := Run{Requests: 1, Rows: p.rows}
		s, _ := b.m.sessionFor(p.outputs)
		outs, err := b.m.run(p.ctx, s, p.inputs, b.m.outputs, p.rows, &run, nil)
		b.m.ran(run)
		p.result <- batchResult{outs, runError(b.m, err), run}
		return
	}
	inputs, rows := b.merge(batch)
	close(batch[0].copied)
	// Merging is the batch's input work too.
	run := Run{Requests: len(batch), Rows: rows}
	merged := time.Now()
	ctx, stop := together(batch)
	s := b.m.whole()
	s.binds = b.binds
	outs, err := b.m.run(ctx, s, inputs, b.m.outputs, rows, &run, nil)
	stopped := err != nil && ctx.Err() != nil
	stop()
	run.Input += merged.Sub(start)
	b.m.ran(run)
	if err != nil && !stopped && rejection(b.m.Name, err) != nil {
		b.alone(batch, inputs)
		b.scratch.Put(inputs)
		return
	}
	b.scratch.Put(inputs)
	off := 0
	for _, p := range batch {
		switch {
		case stopped:
			// Every member had gone: each has its own context's error.
			p.result <- batchResult{err: p.ctx.Err(), run: run}
		case err != nil:
			p.result <- batchResult{err: runError(b.m, err), run: run}
		default:
			p.result <- batchResult{outs: splitRows(outs, off, p.rows), run: run}
		}
		off += p.rows
	}
}

// together is the context of a merged run: it ends once every member's
// context has. One member leaving must not stop the others' run; once all
// have left, nobody waits for it, and it is stopped as a run alone is
// (ORT's terminate). stop releases what watches the members.
func together(batch []*pending) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var left atomic.Int64
	left.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, p := range batch {
		stops[i] = context.AfterFunc(p.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// record fills the Stats of p's request, from the request's own goroutine
// once it has its answer or has left its run, so that nothing writes them
// after the request is answered: it waited from its queueing to the start
// of its batch's run, and run served it (zero for one that left).
func (p *pending) record(run Run) {
	if s := StatsOf(p.ctx); s != nil && !p.started.IsZero() {
		s.Queue, s.Run = p.started.Sub(p.queued), run
	}
}

// merge concatenates the batch's inputs along dim 0, into recycled buffers.
func (b *batcher) merge(batch []*pending) ([]tensor.Tensor, int) {
	rows := 0
	for _, p := range batch {
		rows += p.rows
	}
	merged, _ := b.scratch.Get().([]tensor.Tensor)
	if merged == nil {
		merged = make([]tensor.Tensor, len(b.m.Signature.Inputs))
	}
	parts := make([]tensor.Tensor, len(batch))
	for i := range merged {
		for j, p := range batch {
			parts[j] = p.inputs[i]
		}
		merged[i] = tensor.Concat(merged[i], parts)
	}
	return merged, rows
}

// alone runs each request of a merged run that ORT refused (rejected.go)
// on its own, so that only those whose rows are at fault are refused: the
// refusal does not say whose rows it was. Each runs on its rows of the
// merged copy, as its own buffers may be gone with a request that left.
func (b *batcher) alone(batch []*pending, inputs []tensor.Tensor) {
	off := 0
	for _, p := range batch {
		mine := splitRows(inputs, off, p.rows)
		off += p.rows
		if err := p.ctx.Err(); err != nil {
			p.result <- batchResult{err: err}
			continue
		}
		run := Run{Requests: 1, Rows: p.rows}
		s, _ := b.m.sessionFor(p.outputs)
		outs, err := b.m.run(p.ctx, s, mine, b.m.outputs, p.rows, &run, nil)
		b.m.ran(run)
		p.result <- batchResult{outs, runError(b.m, err), run}
	}
}

// splitRows returns rows [off, off+n) of every output, sharing the
// outputs' memory: each request reads only its own rows.
func splitRows(outs []tensor.Tensor, off, n int) []tensor.Tensor {
	mine := make([]tensor.Tensor, len(outs))
	for i, t := range outs {
		mine[i] = t.Rows(off, n)
	}
	return mine
}
