// Package pace runs the collector's background deletions (retention, the
// stats rollups' horizons) as small steps through the ingest writer, one
// control job in its transaction each, with a pause between them: a
// backlog of millions of rows never holds acknowledgements back for more
// than one small batch, and an idle collector checks once in a while.
package pace

import (
	"context"
	"time"

	"github.com/visitrack/visitrack/collector/store"
)

// Writer runs a step in the ingest writer (ingest.Ingester.Maintain); the
// ids a step returns are the visits it deleted, for the live side.
type Writer interface {
	Maintain(ctx context.Context, fn func(ctx context.Context, q store.Querier) ([]string, error)) error
}

// Loop is a paced deletion.
type Loop struct {
	// Step deletes up to Batch items and returns how many it deleted.
	Step  func(ctx context.Context) (int, error)
	Batch int
	// Pause is the wait after a full batch (a backlog lasts), Idle the wait
	// after a short one (caught up) or a failure; 0 is DefaultPause and
	// DefaultIdle.
	Pause, Idle time.Duration
	// Failed is told each failed step; CaughtUp the items deleted since it
	// was last told, once a backlog is gone. Either may be nil.
	Failed   func(err error)
	CaughtUp func(total int)
}

// The waits of a Loop that sets none: a batch every 50 ms while a backlog
// lasts keeps the writer's share small, and a minute is as fine as any
// horizon or retention is checked.
const (
	DefaultPause = 50 * time.Millisecond
	DefaultIdle  = time.Minute
)

// Run runs steps until ctx ends.
func (l Loop) Run(ctx context.Context) {
	if l.Pause <= 0 {
		l.Pause = DefaultPause
	}
	if l.Idle <= 0 {
		l.Idle = DefaultIdle
	}
	total := 0
	for {
		n, err := l.Step(ctx)
		total += n
		wait := l.Pause
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if l.Failed != nil {
				l.Failed(err)
			}
			wait = l.Idle
		case n < l.Batch:
			if total > 0 && l.CaughtUp != nil {
				l.CaughtUp(total)
			}
			total, wait = 0, l.Idle
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
