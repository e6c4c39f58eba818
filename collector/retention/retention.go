// Package retention deletes visits older than the operator's retention
// (--retention): those that ended before now − retention go, with their
// events, pages, sessions, identity links and metadata. Identities and
// their visitor data stay until erased.
//
// It deletes in small batches, each one step of the ingest writer (a
// control job in its transaction), with a pause between batches, so that
// a backlog of millions of rows never holds acknowledgements back for
// more than one small batch. The edge build does not run it: it has no
// background work; store.Store.PurgeVisits, which does the deleting, is
// single statements that D1 runs, for a scheduled worker to call.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/visitrack/visitrack/collector/pace"
	"github.com/visitrack/visitrack/collector/store"
)

// Minimum is the shortest retention accepted: anything shorter would
// delete visits that have barely ended.
const Minimum = time.Hour

// ParseDuration reads a retention such as "400d", "36h" or "90m": Go's
// durations plus a d suffix for days. "" and "0" mean off (0).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("retention %q: want a duration such as 400d or 36h", s)
		}
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return 0, fmt.Errorf("retention %q: want a duration such as 400d or 36h", s)
		}
	}
	if d < Minimum {
		return 0, fmt.Errorf("retention %q: at least %s (it deletes visits that ended before now minus the retention)", s, Minimum)
	}
	return d, nil
}

// Writer runs a step in the ingest writer (ingest.Ingester.Maintain).
type Writer = pace.Writer

// Config configures a Retainer.
type Config struct {
	Store     *store.Store
	Writer    Writer
	Retention time.Duration
	// Batch is the visits per step (default 20, at most
	// store.MaxPurgeBatch); Pause the wait between steps while a backlog
	// lasts; Idle the wait when nothing is due (defaults: pace.DefaultPause
	// and pace.DefaultIdle).
	Batch       int
	Pause, Idle time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// Retainer deletes what is past the retention.
type Retainer struct{ cfg Config }

// New returns a Retainer.
func New(cfg Config) (*Retainer, error) {
	if cfg.Store == nil || cfg.Writer == nil {
		return nil, errors.New("retention: Store and Writer are required")
	}
	if cfg.Retention < Minimum {
		return nil, fmt.Errorf("retention: %s is below the minimum of %s", cfg.Retention, Minimum)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20
	}
	cfg.Batch = min(cfg.Batch, store.MaxPurgeBatch)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Retainer{cfg: cfg}, nil
}

// Step deletes one batch of visits that ended before now − retention, and
// returns how many it deleted: none while another collector of the
// database runs a step.
func (r *Retainer) Step(ctx context.Context) (int, error) {
	cutoff := r.cfg.Now().Add(-r.cfg.Retention)
	var n int
	err := r.cfg.Writer.Maintain(ctx, func(ctx context.Context, q store.Querier) ([]string, error) {
		// One node of a database deletes at a time; the others find
		// nothing to do (docs/deployment.md).
		if ok, err := r.cfg.Store.TryJob(ctx, q, store.JobRetention); !ok || err != nil {
			return nil, err
		}
		ids, err := r.cfg.Store.PurgeVisits(ctx, q, cutoff, r.cfg.Batch)
		n = len(ids)
		return ids, err
	})
	if err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	return n, nil
}

// Run deletes batch after batch, pausing between them, until ctx ends.
// A failed step is logged and tried again after the idle wait.
func (r *Retainer) Run(ctx context.Context) {
	pace.Loop{Step: r.Step, Batch: r.cfg.Batch, Pause: r.cfg.Pause, Idle: r.cfg.Idle,
		Failed: func(err error) { r.cfg.Logger.Error("retention step failed", "err", err) },
		CaughtUp: func(total int) {
			r.cfg.Logger.Info("retention: deleted old visits", "visits", total, "retention", r.cfg.Retention.String())
		},
	}.Run(ctx)
}
