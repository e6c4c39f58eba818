package collector

import (
	"context"
	"fmt"
	"time"
)

// Job names a task that one collector of a database runs at a time
// (docs/deployment.md): the others skip their round while it runs, and the
// next round goes to whichever node comes first. Its value is the lock's
// key, apart from the migrations' ("visitrack" in ASCII).
type Job int64

// The jobs that run once across nodes.
const (
	// JobSweep ends idle visits (the visit timeout).
	JobSweep Job = 0x7669737472000001 + iota
	// JobRetention deletes visits past --retention.
	JobRetention
	// JobRollups trims the stats rollups past their horizons.
	JobRollups
	// JobPartitions makes and drops the month partitions of events
	// (PostgreSQL only).
	JobPartitions
	// JobMergeUndo deletes what merges recorded they moved once their
	// undo limit is up (docs/data-subject.md).
	JobMergeUndo
)

func (j Job) String() string {
	switch j {
	case JobSweep:
		return "visit-timeout sweep"
	case JobRetention:
		return "retention"
	case JobRollups:
		return "rollup trimming"
	case JobPartitions:
		return "partitions"
	case JobMergeUndo:
		return "merge undo limit"
	}
	return fmt.Sprintf("job %#x", int64(j))
}

// JobStore is what the jobs that come back on a timer (the visit-timeout
// sweep, retention, rollup trimming) need of storage: a job's lock, and
// the deletions of one small batch. Each runs in the transaction of the
// ingest writer's commit that the round joins, Q (the store's Querier), so
// that the domain names no SQL type.
type JobStore[Q any] interface {
	// TryJob takes job's lock for the rest of the transaction q and
	// reports whether it did: false means another node runs the job now,
	// and this round is skipped. It waits for nothing; where one collector
	// writes the database it is always true.
	TryJob(ctx context.Context, q Q, job Job) (bool, error)
	// PurgeVisits deletes up to limit visits that ended before cutoff,
	// with what hangs on them, and returns their ids.
	PurgeVisits(ctx context.Context, q Q, cutoff time.Time, limit int) ([]string, error)
	// TrimStats deletes up to limit rollup rows a table that are past
	// their horizons at now, and returns how many.
	TrimStats(ctx context.Context, q Q, now time.Time, limit int) (int, error)
	// Now is the store's clock, which the stats reads use too.
	Now() time.Time
}
