package grpc

import (
	"context"
	"testing"
	"time"
)

// TestAnswerInTime pins the margin the core's deadline keeps from the
// transport's: a tenth of the time left, at most 10 ms, and nothing for a
// call without a deadline or past it.
func TestAnswerInTime(t *testing.T) {
	for _, tc := range []struct {
		name       string
		left, want time.Duration // want: how much earlier; -1 for no deadline
	}{
		{"no deadline", -1, -1},
		{"50 ms", 50 * time.Millisecond, 5 * time.Millisecond},
		{"a minute", time.Minute, 10 * time.Millisecond},
		{"passed", -time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			var deadline time.Time
			if tc.want >= 0 {
				var cancel context.CancelFunc
				deadline = time.Now().Add(tc.left)
				ctx, cancel = context.WithDeadline(ctx, deadline)
				defer cancel()
			}
			got, cancel := answerInTime(ctx)
			defer cancel()
			d, ok := got.Deadline()
			switch {
			case tc.want < 0:
				if ok {
					t.Errorf("deadline %v, want none", d)
				}
			case !ok:
				t.Errorf("no deadline, want %v before the call's", tc.want)
			// The margin is a tenth of the time left when answerInTime
			// looks, a little after the deadline was set: a loaded
			// machine may take a millisecond, a tenth of one off it.
			case deadline.Sub(d) > tc.want || deadline.Sub(d) < tc.want-time.Millisecond/10:
				t.Errorf("the core's deadline is %v before the call's, want %v", deadline.Sub(d), tc.want)
			}
		})
	}
}
