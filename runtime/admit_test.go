package runtime

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestAdmission pins the gate: max_queue_size admitted, the next refused
// with the model's name and limit, room again after a leave, and no bound
// at 0.
func TestAdmission(t *testing.T) {
	a := newAdmission("m", 2)
	for i := range 2 {
		if err := a.enter(); err != nil {
			t.Fatalf("enter %d: %v", i, err)
		}
	}
	var ol *OverloadedError
	if err := a.enter(); !errors.As(err, &ol) || ol.Model != "m" || ol.Queue != 2 || ol.RetryAfter <= 0 {
		t.Fatalf("third enter with max_queue_size 2: %v, want *OverloadedError{m, 2, >0}", err)
	}
	a.leave()
	if err := a.enter(); err != nil {
		t.Fatalf("enter after a leave: %v", err)
	}
	if a.queued() != 2 {
		t.Fatalf("queued %d, want 2", a.queued())
	}
	free := newAdmission("m", 0)
	for range 1000 {
		if err := free.enter(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdmissionConcurrent: however entries race, no more than the limit
// are ever inside at once, and a refusal never costs an admission: with
// every admitted request still inside, exactly the limit got in.
func TestAdmissionConcurrent(t *testing.T) {
	const limit = 8
	a := newAdmission("m", limit)
	var inside, admitted atomic.Int64
	var over atomic.Bool
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 200 {
				if a.enter() != nil {
					continue
				}
				if inside.Add(1) > limit {
					over.Store(true)
				}
				inside.Add(-1)
				a.leave()
			}
		})
	}
	wg.Wait()
	if over.Load() || a.queued() != 0 {
		t.Fatalf("more than %d inside at once: %v; %d still counted", limit, over.Load(), a.queued())
	}
	for range 64 {
		wg.Go(func() {
			if a.enter() == nil {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != limit {
		t.Fatalf("%d of 64 admitted with nobody leaving, want %d", admitted.Load(), limit)
	}
}
