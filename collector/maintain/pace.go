package maintain

import (
	"context"
	"errors"
	"time"

	"github.com/visitrack/visitrack/collector/ingest"
)

// Pace is how often a job's rounds come. A round that did a full Batch
// leaves a backlog: the next one follows after Pause, so that a backlog of
// millions of rows drains in small steps that never hold acknowledgements
// back for more than one batch. A shorter round (caught up) or a failed
// one waits Idle, so that an idle collector checks once in a while.
type Pace struct {
	Batch       int
	Pause, Idle time.Duration
}

// The waits of a Pace that sets none: a batch every 50 ms while a backlog
// lasts keeps the writer's share small, and a minute is as fine as any
// horizon or retention is checked.
const (
	DefaultPause = 50 * time.Millisecond
	DefaultIdle  = time.Minute
)

// loop runs j's rounds at its pace until ctx ends or the writer closes. A
// failed round is logged and tried again after the idle wait.
func (r *Runner) loop(ctx context.Context, j Job) {
	l := loop{Step: func(ctx context.Context) (int, error) { return r.round(ctx, j) }, Pace: j.Pace,
		Failed: func(err error) { r.cfg.Logger.Error("maintenance round failed", "job", j.Name, "err", err) }}
	if j.CaughtUp != nil {
		l.CaughtUp = func(total int) { j.CaughtUp(r.cfg.Logger, total) }
	}
	l.run(ctx)
}

// loop is a job's rounds at its pace, apart from what a round is.
type loop struct {
	Step func(ctx context.Context) (int, error)
	Pace
	// Failed is told each failed step; CaughtUp the items done since it
	// was last told, once a backlog is gone. Either may be nil.
	Failed   func(err error)
	CaughtUp func(total int)
}

// run runs steps until ctx ends or a step finds the writer closed (the
// collector is shutting down: no step will get through again).
func (l loop) run(ctx context.Context) {
	if l.Pause <= 0 {
		l.Pause = DefaultPause
	}
	if l.Idle <= 0 {
		l.Idle = DefaultIdle
	}
	total := 0
	for {
		n, err := l.Step(ctx)
		wait := l.Pause
		switch {
		case ctx.Err() != nil, errors.Is(err, ingest.ErrClosed):
			return
		case err != nil:
			// Not counted: natively a failed step was rolled back.
			if l.Failed != nil {
				l.Failed(err)
			}
			wait = l.Idle
		case n < l.Batch:
			if total += n; total > 0 && l.CaughtUp != nil {
				l.CaughtUp(total)
			}
			total, wait = 0, l.Idle
		default:
			total += n
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
