package runtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLimiter pins when Acquire takes a slot: at once when one is free and
// the request is live, never for a request whose context has ended, and
// after waiting only until a slot is released or the context ends.
func TestLimiter(t *testing.T) {
	for _, c := range []struct {
		name    string
		held    int  // slots of 2 taken before Acquire
		cancel  bool // ctx cancelled before Acquire
		release bool // a slot released while Acquire waits
		want    error
		taken   int // slots taken after Acquire
	}{
		{name: "free slot", held: 0, want: nil, taken: 1},
		{name: "last slot", held: 1, want: nil, taken: 2},
		{name: "ended request, free slot", held: 0, cancel: true, want: context.Canceled, taken: 0},
		{name: "ended request, no slot", held: 2, cancel: true, want: context.Canceled, taken: 2},
		{name: "full until the deadline", held: 2, want: context.DeadlineExceeded, taken: 2},
		{name: "full until a release", held: 2, release: true, want: nil, taken: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := NewLimiter(2)
			for range c.held {
				if err := l.Acquire(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			// Only the deadline's case waits out its deadline: the others'
			// is far enough off that a slow machine does not reach it.
			timeout := time.Minute
			if errors.Is(c.want, context.DeadlineExceeded) {
				timeout = 50 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			if c.cancel {
				cancel()
			}
			if c.release {
				go func() {
					time.Sleep(5 * time.Millisecond)
					l.Release()
				}()
			}
			if err := l.Acquire(ctx); !errors.Is(err, c.want) {
				t.Fatalf("Acquire: %v, want %v", err, c.want)
			}
			if got := len(l.slots); got != c.taken {
				t.Errorf("%d slots taken, want %d", got, c.taken)
			}
		})
	}
}

// TestLimiterFreeSlotAllocates pins that a free slot costs a request's
// context nothing: its Done channel, made on the first call, is an
// allocation per request that only a wait needs.
func TestLimiterFreeSlotAllocates(t *testing.T) {
	l := NewLimiter(1)
	ctxOnly := testing.AllocsPerRun(100, func() {
		_, cancel := context.WithCancel(context.Background())
		cancel()
	})
	withSlot := testing.AllocsPerRun(100, func() {
		ctx, cancel := context.WithCancel(context.Background())
		if err := l.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		l.Release()
		cancel()
	})
	if withSlot != ctxOnly {
		t.Errorf("a context with Acquire and Release: %v allocations, the context alone %v", withSlot, ctxOnly)
	}
}
