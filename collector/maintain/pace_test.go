package maintain

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLoop: full batches follow each other after Pause; a short batch
// reports the total and waits Idle (an hour here, so no further step
// comes); a failure is reported and waits Idle too.
func TestLoop(t *testing.T) {
	for name, tc := range map[string]struct {
		steps      []int // -1 fails
		wantTotal  int   // CaughtUp's total, 0 when not called
		wantFailed bool
	}{
		"backlog then caught up": {steps: []int{5, 5, 2}, wantTotal: 12},
		"nothing due":            {steps: []int{0}},
		"failure":                {steps: []int{5, -1}, wantFailed: true},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			calls := 0
			done := make(chan struct{})
			var total int
			var failed error
			settled := make(chan struct{})
			l := loop{
				Pace: Pace{Batch: 5, Pause: time.Millisecond, Idle: time.Hour},
				Step: func(context.Context) (int, error) {
					if calls >= len(tc.steps) {
						t.Errorf("step %d: the loop went on after it should have idled", calls+1)
						return 0, nil
					}
					n := tc.steps[calls]
					calls++
					if calls == len(tc.steps) {
						defer close(settled)
					}
					if n < 0 {
						return 0, errors.New("disk on fire")
					}
					return n, nil
				},
				Failed:   func(err error) { failed = err },
				CaughtUp: func(n int) { total = n },
			}
			go func() { l.run(ctx); close(done) }()
			select {
			case <-settled:
			case <-time.After(30 * time.Second):
				cancel()
				<-done
				t.Fatalf("%d steps of %d in 30 s: the loop idled before the backlog was gone", calls, len(tc.steps))
			}
			// What must not happen cannot be waited for: give the loop
			// time to (wrongly) step again, many Pauses long.
			time.Sleep(50 * time.Millisecond)
			cancel()
			<-done
			if calls != len(tc.steps) {
				t.Errorf("%d steps, want %d", calls, len(tc.steps))
			}
			if total != tc.wantTotal {
				t.Errorf("caught up with %d, want %d", total, tc.wantTotal)
			}
			if (failed != nil) != tc.wantFailed {
				t.Errorf("failed = %v, want a failure: %v", failed, tc.wantFailed)
			}
		})
	}
}
