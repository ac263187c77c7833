package inference

import (
	"errors"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestBudget pins the budget's arithmetic, which every front end's
// refusals rest on: leases take bytes while the total stays within the
// limit, a lease that would pass it is refused Overloaded with a
// RetryAfter and holds what it held before, one larger than the whole
// limit is ResourceExhausted with none, Cover takes only what a lease
// lacks, and Release gives back all a lease holds. No limit counts bytes
// without refusing any.
func TestBudget(t *testing.T) {
	type step struct {
		lease int   // which of two leases
		cover bool  // Cover instead of Grow
		n     int64 // bytes
		kind  Kind  // -1: granted
		held  int64 // the budget's total after the step
	}
	const granted Kind = -1
	for _, c := range []struct {
		name  string
		limit int64
		steps []step
	}{
		{"within the limit", 100, []step{{0, false, 60, granted, 60}, {1, false, 40, granted, 100}}},
		{"past it, by the total", 100, []step{{0, false, 60, granted, 60}, {1, false, 41, Overloaded, 60}, {1, false, 40, granted, 100}}},
		{"past it, alone", 100, []step{{0, false, 101, ResourceExhausted, 0}, {0, false, 100, granted, 100}}},
		{"cover takes what is lacking", 100, []step{{0, true, 30, granted, 30}, {0, true, 20, granted, 30}, {0, true, 90, granted, 90}, {1, true, 20, Overloaded, 90}}},
		{"growth past the limit by others is to retry", 100, []step{{0, false, 50, granted, 50}, {1, false, 50, granted, 100}, {0, false, 1, Overloaded, 100}}},
		// A request that would hold more than the limit in all can never
		// be served: 413, not "retry later", however little the step.
		{"growth past the limit alone is final", 100, []step{{0, false, 50, granted, 50}, {0, false, 50, granted, 100}, {0, false, 1, ResourceExhausted, 100}}},
		{"cover past the limit alone is final", 100, []step{{0, true, 60, granted, 60}, {0, true, 101, ResourceExhausted, 60}}},
		{"no limit", 0, []step{{0, false, 1 << 40, granted, 1 << 40}, {1, true, 5, granted, 1<<40 + 5}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := NewBudget(c.limit)
			leases := [2]Lease{b.Lease(), b.Lease()}
			for i, s := range c.steps {
				l := &leases[s.lease]
				var err error
				if s.cover {
					err = l.Cover(s.n)
				} else {
					err = l.Grow(s.n)
				}
				var e *Error
				switch {
				case s.kind == granted && err != nil:
					t.Fatalf("step %d: %v, want granted", i, err)
				case s.kind != granted && (!errors.As(err, &e) || e.Kind != s.kind):
					t.Fatalf("step %d: %v, want %v", i, err, s.kind)
				case e != nil && (e.RetryAfter > 0) != (s.kind == Overloaded):
					t.Errorf("step %d: %v with RetryAfter %v", i, s.kind, e.RetryAfter)
				}
				if got := b.Held(); got != s.held {
					t.Fatalf("step %d: the budget holds %d, want %d", i, got, s.held)
				}
			}
			for i := range leases {
				leases[i].Release()
			}
			if got := b.Held(); got != 0 {
				t.Errorf("after every lease is released, the budget holds %d", got)
			}
			var none Lease // no budget at all: takes nothing, refuses nothing
			if err := none.Grow(1 << 50); err != nil || none.Held() != 0 {
				t.Errorf("the zero Lease: %v, holds %d", err, none.Held())
			}
		})
	}
}

// TestCopiedBytes pins what a decoded request is charged beyond its body:
// nothing for tensors that lie in it, their size for those made anew.
func TestCopiedBytes(t *testing.T) {
	body := make([]byte, 64)
	inBody, ok := tensor.View(tensor.Float32, body[16:32])
	if !ok {
		t.Fatal("no view")
	}
	for _, c := range []struct {
		name string
		t    tensor.Tensor
		want int64
	}{
		{"lies in the body", tensor.Tensor{DType: tensor.Float32, Shape: []int64{4}, Data: inBody}, 0},
		{"made anew", tensor.Tensor{DType: tensor.Float32, Shape: []int64{4}, Data: make([]float32, 4)}, 16},
		{"strings", tensor.Tensor{DType: tensor.String, Shape: []int64{2}, Data: []string{"ab", "c"}}, 3 + 2*16},
		{"absent", tensor.Tensor{}, 0},
	} {
		if got := CopiedBytes([]tensor.Tensor{c.t}, body); got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, got, c.want)
		}
	}
}
