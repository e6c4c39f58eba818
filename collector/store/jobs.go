package store

import (
	"context"
	"fmt"
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
	// undo limit is up (ExpireMergeUndos).
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

// TryJob takes job's lock for the rest of the transaction q and reports
// whether it did: false means another node is running the job now, and
// this round is to be skipped. It waits for nothing. Where one collector
// writes the database (SQLite) it is always true and costs no query. q
// must be a transaction: the lock ends with it.
func (s *Store) TryJob(ctx context.Context, q Querier, job Job) (bool, error) {
	if s.dialect.TryLock == "" {
		return true, nil
	}
	var ok bool
	if err := q.QueryRowContext(ctx, s.dialect.TryLock, int64(job)).Scan(&ok); err != nil {
		return false, fmt.Errorf("take the lock of the %s: %w", job, err)
	}
	return ok, nil
}
