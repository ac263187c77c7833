package runtime

import (
	"fmt"
	"sync/atomic"
	"time"
)

// admission is a model's one gate for max_queue_size. A request enters
// when it starts to wait and leaves when it stops: with a batcher, while
// it sits in the batcher's queue; without one, while it waits for a run
// slot. The gate is the only place that refuses a request as overloaded,
// so both paths count and refuse alike.
type admission struct {
	model string
	limit int // max_queue_size; 0: unbounded
	// waiting counts every request between enter and leave, bounded or
	// not, so that the count means the same whatever the limit.
	waiting atomic.Int64
}

func newAdmission(model string, limit int) *admission {
	return &admission{model: model, limit: limit}
}

// enter counts one more waiting request, or refuses it with
// *OverloadedError when max_queue_size are already waiting. Each nil
// return must be matched by one leave.
func (a *admission) enter() error {
	for {
		n := a.waiting.Load()
		// Compare-and-swap rather than add-then-undo: a refused request
		// must not, even for a moment, count against one being admitted.
		if a.limit > 0 && n >= int64(a.limit) {
			return &OverloadedError{Model: a.model, Queue: a.limit, RetryAfter: retryAfter}
		}
		if a.waiting.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

// leave ends the wait of a request enter admitted.
func (a *admission) leave() { a.waiting.Add(-1) }

// queued is the number of requests waiting now.
func (a *admission) queued() int { return int(a.waiting.Load()) }

// OverloadedError is a request refused because its model's queue is full.
// Retrying after RetryAfter is the client's best move.
type OverloadedError struct {
	Model      string
	Queue      int
	RetryAfter time.Duration
}

func (e *OverloadedError) Error() string {
	return fmt.Sprintf("model %s is overloaded: %d requests already queued", e.Model, e.Queue)
}

// retryAfter is what an overloaded model tells clients: queues drain in
// milliseconds, and HTTP's Retry-After counts whole seconds.
const retryAfter = time.Second
