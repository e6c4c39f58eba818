package maintain

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store"
)

// MergeUndoConfig configures the merge undo limit's job.
type MergeUndoConfig struct {
	Store *store.Store
	// Limit is how long after it finished a merge can be undone
	// (--merge-undo-days); the Merger that undoes merges has the same.
	Limit time.Duration
	// Batch is the merges marked and rows deleted a round (default 200,
	// at most store.MaxExpireBatch); Pause and Idle default to
	// DefaultPause and DefaultIdle.
	Batch       int
	Pause, Idle time.Duration
	// Now is the clock; nil is the store's, which the undo reads too.
	Now func() time.Time
}

// MergeUndo is the job that ends the undo of merges past the limit: what
// a merge recorded it moved holds personal data (both identities' rows
// and documents as they were), kept only while the merge can be undone
// (docs/data-subject.md). Each round marks the merges whose time is up no
// longer undoable and deletes a batch of their rows
// (store.Store.ExpireMergeUndos, statements D1 also runs).
func MergeUndo(cfg MergeUndoConfig) (Job, error) {
	if cfg.Store == nil {
		return Job{}, errors.New("merge undo limit: Store is required")
	}
	if cfg.Limit <= 0 {
		return Job{}, errors.New("merge undo limit: Limit must be positive")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 200
	}
	cfg.Batch = min(cfg.Batch, store.MaxExpireBatch)
	if cfg.Now == nil {
		cfg.Now = cfg.Store.Now
	}
	return Job{
		Name: "merge undo limit",
		Lock: collector.JobMergeUndo,
		Round: func(ctx context.Context, tx ingest.Tx) (int, error) {
			return cfg.Store.ExpireMergeUndos(ctx, tx.Querier(), cfg.Now().Add(-cfg.Limit), cfg.Batch)
		},
		Pace: Pace{Batch: cfg.Batch, Pause: cfg.Pause, Idle: cfg.Idle},
		CaughtUp: func(log *slog.Logger, total int) {
			log.Info("merge undo limit: deleted what expired merges moved", "mergesAndRows", total, "limit", cfg.Limit.String())
		},
	}, nil
}
