package daemon

import (
	"context"

	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/postgres"
)

// startMaintenance starts the jobs that come back on a timer, through the
// ingest writer: the visit-timeout sweep, rollup trimming (always: the
// minute rows would otherwise grow without bound), the merge undo limit
// (what merges moved, deleted after --merge-undo-days), with --retention,
// retention, and on PostgreSQL the month partitions of events
// (docs/deployment.md#capacity).
func (m *Main) startMaintenance() error {
	trim, err := maintain.Rollups(maintain.RollupConfig{Store: m.store})
	if err != nil {
		return err
	}
	undo, err := maintain.MergeUndo(maintain.MergeUndoConfig{Store: m.store, Limit: m.Config.MergeUndo})
	if err != nil {
		return err
	}
	jobs := []maintain.Job{maintain.Sweep(maintain.SweepConfig{VisitTimeout: m.Config.VisitTimeout}), trim, undo}
	if m.Config.Retention > 0 {
		ret, err := maintain.Retention(maintain.RetentionConfig{Store: m.store, Retention: m.Config.Retention})
		if err != nil {
			return err
		}
		jobs = append(jobs, ret)
		m.Logger.Info("retention", "delete visits ended more than", m.Config.Retention.String())
	}
	if m.Config.Database != "" {
		parts, err := postgres.PartitionsJob(postgres.PartitionsConfig{Retention: m.Config.Retention})
		if err != nil {
			return err
		}
		jobs = append(jobs, parts)
	}
	m.jobs, err = maintain.Start(context.Background(), maintain.Config{Writer: m.server.Ingester(), Store: m.store, Logger: m.Logger}, jobs...)
	return err
}
