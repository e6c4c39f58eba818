package maintain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store"
)

// SweepConfig configures the visit-timeout sweep.
type SweepConfig struct {
	// VisitTimeout is the ingester's: a round comes every quarter of it
	// (from 50 ms to 15 s), so a visit ends at most a quarter late.
	VisitTimeout time.Duration
	// Limit is the visits a round ends (default and most
	// ingest.SweepLimit).
	Limit int
}

// Sweep is the job that ends visits idle for the visit timeout, writing
// VisitEnded (ingest.Tx.EndIdleVisits).
func Sweep(cfg SweepConfig) Job {
	if cfg.VisitTimeout <= 0 {
		cfg.VisitTimeout = 30 * time.Minute
	}
	if cfg.Limit <= 0 || cfg.Limit > ingest.SweepLimit {
		cfg.Limit = ingest.SweepLimit
	}
	every := min(max(cfg.VisitTimeout/4, 50*time.Millisecond), 15*time.Second)
	return Job{
		Name: "visit-timeout sweep",
		Lock: collector.JobSweep,
		Round: func(ctx context.Context, tx ingest.Tx) (int, error) {
			return tx.EndIdleVisits(ctx, cfg.Limit)
		},
		Pace: Pace{Batch: cfg.Limit, Pause: every, Idle: every},
	}
}

// MinRetention is the shortest retention accepted: anything shorter would
// delete visits that have barely ended.
const MinRetention = time.Hour

// ParseRetention reads a retention such as "400d", "36h" or "90m": Go's
// durations plus a d suffix for days. "" and "0" mean off (0).
func ParseRetention(s string) (time.Duration, error) {
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
	if d < MinRetention {
		return 0, fmt.Errorf("retention %q: at least %s (it deletes visits that ended before now minus the retention)", s, MinRetention)
	}
	return d, nil
}

// RetentionConfig configures retention.
type RetentionConfig struct {
	Store     collector.JobStore[store.Querier]
	Retention time.Duration
	// Batch is the visits a round deletes (default 20, at most
	// store.MaxPurgeBatch); Pause and Idle default to DefaultPause and
	// DefaultIdle.
	Batch       int
	Pause, Idle time.Duration
	Now         func() time.Time
}

// Retention is the job that deletes the visits that ended before now −
// retention (--retention), with their events, pages, sessions, identity
// links and metadata. Identities and their visitor data stay until
// erased.
func Retention(cfg RetentionConfig) (Job, error) {
	if cfg.Store == nil {
		return Job{}, errors.New("retention: Store is required")
	}
	if cfg.Retention < MinRetention {
		return Job{}, fmt.Errorf("retention: %s is below the minimum of %s", cfg.Retention, MinRetention)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20
	}
	cfg.Batch = min(cfg.Batch, store.MaxPurgeBatch)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return Job{
		Name: "retention",
		Lock: collector.JobRetention,
		Round: func(ctx context.Context, tx ingest.Tx) (int, error) {
			ids, err := cfg.Store.PurgeVisits(ctx, tx.Querier(), cfg.Now().Add(-cfg.Retention), cfg.Batch)
			tx.Forget(ids)
			return len(ids), err
		},
		Pace: Pace{Batch: cfg.Batch, Pause: cfg.Pause, Idle: cfg.Idle},
		CaughtUp: func(log *slog.Logger, total int) {
			log.Info("retention: deleted old visits", "visits", total, "retention", cfg.Retention.String())
		},
	}, nil
}

// DefaultTrimBatch is the rows per table a trimming round deletes unless
// RollupConfig says otherwise: about 0.4 ms of the writer's time here
// (500 rows took 1 ms, 2,000 3.3 ms), and with the 50 ms pause up to 4,000
// rows a second a table while a backlog lasts, far more than a site adds
// (one minute row a minute per name or URL seen in it).
const DefaultTrimBatch = 200

// RollupConfig configures rollup trimming.
type RollupConfig struct {
	Store collector.JobStore[store.Querier]
	// Batch is the rows per table a round deletes (default
	// DefaultTrimBatch, at most store.MaxTrimBatch); Pause and Idle
	// default to DefaultPause and DefaultIdle (a minute row comes of age
	// every minute).
	Batch       int
	Pause, Idle time.Duration
	// Now is the clock of the horizons; nil is the store's clock, which
	// the stats reads use too.
	Now func() time.Time
}

// Rollups is the job that keeps the stats rollups bounded: it deletes the
// minute rows older than store.MinuteHorizon (48 hours) and the hour rows
// older than store.HourHorizon (400 days), which the stats reads no
// longer use (they answer a period's older parts from the coarser
// levels). Day rows stay as long as their events. It always runs, with or
// without --retention: the minute level alone would otherwise grow by up
// to 60 rows for every hour row, forever. The store's TrimStats is one
// statement a table, which D1 also runs.
func Rollups(cfg RollupConfig) (Job, error) {
	if cfg.Store == nil {
		return Job{}, errors.New("rollup trimming: Store is required")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultTrimBatch
	}
	cfg.Batch = min(cfg.Batch, store.MaxTrimBatch)
	if cfg.Now == nil {
		cfg.Now = cfg.Store.Now
	}
	return Job{
		Name: "rollup trimming",
		Lock: collector.JobRollups,
		Round: func(ctx context.Context, tx ingest.Tx) (int, error) {
			return cfg.Store.TrimStats(ctx, tx.Querier(), cfg.Now(), cfg.Batch)
		},
		Pace: Pace{Batch: cfg.Batch, Pause: cfg.Pause, Idle: cfg.Idle},
		CaughtUp: func(log *slog.Logger, total int) {
			log.Debug("rollup: deleted rows past their horizon", "rows", total,
				"minuteHorizon", store.MinuteHorizon.String(), "hourHorizon", store.HourHorizon.String())
		},
	}, nil
}
