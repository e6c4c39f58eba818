// Package maintain runs the collector's jobs that come back on a timer: the
// visit-timeout sweep, retention, and rollup trimming. Each is a Job: a name,
// a round that does one small batch of the work, its pace, and the lock
// that lets one node of a shared database run it at a time.
//
// Every round is one step of the ingest writer (ingest.Ingester.Maintain),
// in the transaction of the commit it joins, so housekeeping never races
// ingest for the write lock and never holds acknowledgements back for more
// than one small batch (docs/architecture.md#one-writer). Start is the one
// starter: the native collector runs each job round after round at its
// pace; the edge, whose Cron Trigger is its timer, runs one round of each
// per trigger.
package maintain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store"
)

// Job is work that comes back on a timer.
type Job struct {
	// Name says which job it is, in logs and errors.
	Name string
	// Lock is taken in each round's transaction before Round runs: while
	// another node of the database holds it, the round is skipped, so
	// that no work is done twice (docs/deployment.md). Where one collector
	// writes the database it costs nothing.
	Lock collector.Job
	// Round does one batch of the work in tx and returns how many items it
	// did (visits ended, visits or rows deleted).
	Round func(ctx context.Context, tx ingest.Tx) (int, error)
	Pace  Pace
	// CaughtUp, if set, is told how many items the rounds did since it was
	// last told, once a backlog is gone: a log line worth one per backlog.
	CaughtUp func(log *slog.Logger, total int)
}

// Writer runs a round in the ingest writer (ingest.Ingester.Maintain).
type Writer interface {
	Maintain(ctx context.Context, fn func(ctx context.Context, tx ingest.Tx) error) error
}

// Config says where the jobs run.
type Config struct {
	Writer Writer
	// Store takes the jobs' locks.
	Store  collector.JobStore[store.Querier]
	Logger *slog.Logger
	// Once runs one round of each job, in the order given, on the
	// caller's goroutine, and stops at the first failure: the edge's Cron
	// Trigger is its timer. Without it each job runs on its own goroutine
	// until Runner.Stop.
	Once bool
}

// RoundTimeout bounds one round, waiting for the writer included: a round
// that cannot get through in a minute is failed and tried again later.
const RoundTimeout = time.Minute

// Runner is the jobs that Start started.
type Runner struct {
	cfg    Config
	cancel context.CancelFunc
	wg     sync.WaitGroup
	did    []int
}

// Start starts jobs through cfg.Writer. Natively (cfg.Once unset) each job
// runs on its own goroutine, round after round at its pace, until ctx
// ends or Stop is called. With cfg.Once it runs one round of each job and
// returns the first failure; Did says what the rounds did.
func Start(ctx context.Context, cfg Config, jobs ...Job) (*Runner, error) {
	if cfg.Writer == nil || cfg.Store == nil {
		return nil, errors.New("maintain: Writer and Store are required")
	}
	for _, j := range jobs {
		if j.Name == "" || j.Round == nil {
			return nil, fmt.Errorf("maintain: job %q has no name or no round", j.Name)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg}
	if cfg.Once {
		r.did = make([]int, len(jobs))
		for i, j := range jobs {
			n, err := r.round(ctx, j)
			r.did[i] = n
			if err != nil {
				return r, err
			}
		}
		return r, nil
	}
	ctx, r.cancel = context.WithCancel(ctx)
	for _, j := range jobs {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.loop(ctx, j)
		}()
	}
	return r, nil
}

// Stop stops the jobs and waits for their rounds in progress. Stop before
// the writer closes: a round that meets a closed writer ends its job.
func (r *Runner) Stop() {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
}

// Did returns what each job's round did, in the order of the jobs, after
// a Start with Once (nil otherwise).
func (r *Runner) Did() []int { return r.did }

// round runs one round of j in the writer, under j's lock. After a
// failure it still returns what the round did before it, which counts
// where nothing takes it back (the edge, Direct); natively the failed
// round's transaction is rolled back, and the loop ignores it.
func (r *Runner) round(ctx context.Context, j Job) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, RoundTimeout)
	defer cancel()
	var n int
	err := r.cfg.Writer.Maintain(ctx, func(ctx context.Context, tx ingest.Tx) error {
		ok, err := r.cfg.Store.TryJob(ctx, tx.Querier(), j.Lock)
		if !ok || err != nil {
			return err
		}
		n, err = j.Round(ctx, tx)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("%s: %w", j.Name, err)
	}
	return n, nil
}
