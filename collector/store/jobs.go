package store

import (
	"context"
	"fmt"

	"github.com/visitrack/visitrack/collector"
)

// The store keeps what the jobs need (collector/maintain).
var _ collector.JobStore[Querier] = (*Store)(nil)

// TryJob takes job's lock for the rest of the transaction q and reports
// whether it did: false means another node is running the job now, and
// this round is to be skipped. It waits for nothing. Where one collector
// writes the database (SQLite) it is always true and costs no query. q
// must be a transaction: the lock ends with it.
func (s *Store) TryJob(ctx context.Context, q Querier, job collector.Job) (bool, error) {
	if s.dialect.TryLock == "" {
		return true, nil
	}
	var ok bool
	if err := q.QueryRowContext(ctx, s.dialect.TryLock, int64(job)).Scan(&ok); err != nil {
		return false, fmt.Errorf("take the lock of the %s: %w", job, err)
	}
	return ok, nil
}
