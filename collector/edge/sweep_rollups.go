package edge

import (
	"context"

	"github.com/visitrack/visitrack/collector/rollup"
	"github.com/visitrack/visitrack/collector/store"
)

// SweepTrimBatch is the stats rollup rows per table that one run of the
// Cron Trigger's sweep deletes past their horizons (store.MinuteHorizon,
// store.HourHorizon), as the native collector's trimmer does in the
// background. It costs two D1 queries a run (one a table), which the Free
// plan's 50 a run leave room for beside DefaultSweepLimit visits. Runs
// come every minute, and a site adds one minute row a minute per event
// name or page URL seen in it: 2,000 a run (a few milliseconds of D1's
// time) keeps up with 2,000 URLs seen every minute, and clears a backlog
// of a million rows in under nine hours.
const SweepTrimBatch = 2000

// trimRollups deletes one batch of rollup rows past their horizons,
// through in (Direct: single statements, as D1 runs them).
func trimRollups(ctx context.Context, st *store.Store, in rollup.Writer) error {
	t, err := rollup.New(rollup.Config{Store: st, Writer: in, Batch: SweepTrimBatch})
	if err != nil {
		return err
	}
	_, err = t.Step(ctx)
	return err
}
