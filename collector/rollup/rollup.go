// Package rollup keeps the stats rollups bounded: it deletes the minute
// rows older than store.MinuteHorizon (48 hours) and the hour rows older
// than store.HourHorizon (400 days), which the stats reads no longer use
// (they answer a period's older parts from the coarser levels). Day rows
// stay as long as their events. It always runs, with or without
// --retention: the minute level alone would otherwise grow by up to 60
// rows for every hour row, forever.
//
// Like package retention it deletes in small batches, each one step of
// the ingest writer (a control job in its transaction), with a pause
// between batches, so that a backlog of millions of rows (a first start
// after an upgrade) never holds acknowledgements back for more than one
// small batch. store.Store.TrimStats, which does the deleting, is one
// statement a table, which D1 also runs: the edge calls it from its Cron
// Trigger sweep (edge.Sweep).
package rollup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/visitrack/visitrack/collector/pace"
	"github.com/visitrack/visitrack/collector/store"
)

// Writer runs a step in the ingest writer (ingest.Ingester.Maintain).
type Writer = pace.Writer

// DefaultBatch is the rows per table a step deletes unless Config says
// otherwise: about 0.4 ms of the writer's time here (500 rows took 1 ms,
// 2,000 3.3 ms), and with the 50 ms pause up to 4,000 rows a second a
// table while a backlog lasts, far more than a site adds (one minute row a
// minute per name or URL seen in it).
const DefaultBatch = 200

// Config configures a Trimmer.
type Config struct {
	Store  *store.Store
	Writer Writer
	// Batch is the rows per table a step deletes (default DefaultBatch, at
	// most store.MaxTrimBatch); Pause the wait between steps while a
	// backlog lasts; Idle the wait when nothing is due (defaults:
	// pace.DefaultPause and pace.DefaultIdle; a minute row comes of age
	// every minute).
	Batch       int
	Pause, Idle time.Duration
	Logger      *slog.Logger
	// Now is the clock of the horizons; nil is the store's clock, which
	// the stats reads use too.
	Now func() time.Time
}

// Trimmer deletes rollup rows past their level's horizon.
type Trimmer struct{ cfg Config }

// New returns a Trimmer.
func New(cfg Config) (*Trimmer, error) {
	if cfg.Store == nil || cfg.Writer == nil {
		return nil, errors.New("rollup: Store and Writer are required")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	cfg.Batch = min(cfg.Batch, store.MaxTrimBatch)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = cfg.Store.Now
	}
	return &Trimmer{cfg: cfg}, nil
}

// Step deletes one batch (up to Batch rows of each rollup table) past the
// horizons, and returns how many rows it deleted: none while another
// collector of the database runs a step.
func (t *Trimmer) Step(ctx context.Context) (int, error) {
	now := t.cfg.Now()
	var n int
	err := t.cfg.Writer.Maintain(ctx, func(ctx context.Context, q store.Querier) ([]string, error) {
		// One node of a database trims at a time (docs/deployment.md).
		ok, err := t.cfg.Store.TryJob(ctx, q, store.JobRollups)
		if !ok || err != nil {
			return nil, err
		}
		n, err = t.cfg.Store.TrimStats(ctx, q, now, t.cfg.Batch)
		return nil, err
	})
	if err != nil {
		return 0, fmt.Errorf("rollup: %w", err)
	}
	return n, nil
}

// Run deletes batch after batch, pausing between them, until ctx ends.
// A failed step is logged and tried again after the idle wait.
func (t *Trimmer) Run(ctx context.Context) {
	pace.Loop{Step: t.Step, Batch: t.cfg.Batch, Pause: t.cfg.Pause, Idle: t.cfg.Idle,
		Failed: func(err error) { t.cfg.Logger.Error("rollup trim step failed", "err", err) },
		CaughtUp: func(total int) {
			t.cfg.Logger.Debug("rollup: deleted rows past their horizon", "rows", total,
				"minuteHorizon", store.MinuteHorizon.String(), "hourHorizon", store.HourHorizon.String())
		},
	}.Run(ctx)
}
