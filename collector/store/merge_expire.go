package store

import (
	"context"
	"fmt"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// A merge records what it moved so that it can be undone (merge_record.go),
// and that record holds personal data: both identities' rows and
// visitor-data documents as they were. It is kept for the undo limit
// (--merge-undo-days, docs/data-subject.md) after the merge finished; then
// ExpireMergeUndos, run by the maintenance job, marks the merge no longer
// undoable (undo_expired_at) and deletes the record, and an undo answers
// EGONE. Merges still pending or being undone keep theirs: a merge or an
// undo stopped halfway on D1 needs it to finish.

// DefaultMergeUndo is how long a merge can be undone unless the Merger is
// told otherwise: 30 days.
const DefaultMergeUndo = 30 * 24 * time.Hour

// MaxExpireBatch bounds the rows one ExpireMergeUndos call deletes.
const MaxExpireBatch = 1000

// WithUndoLimit sets how long after it finished a merge can be undone
// (d > 0; otherwise DefaultMergeUndo) and returns m. The maintenance job
// that deletes what expired merges moved must be given the same limit.
func (m *Merger) WithUndoLimit(d time.Duration) *Merger {
	if d <= 0 {
		d = DefaultMergeUndo
	}
	m.undoFor = d
	return m
}

// undoExpired returns EGONE when rec, a done merge, can no longer be
// undone: the job marked it, or its time is up and the job has not come
// round yet (an undo then must not start on a record being deleted).
func (m *Merger) undoExpired(rec *collector.IdentityMerge) error {
	if rec.UndoExpiredAt == nil && (rec.FinishedAt == nil || m.s.now().Before(rec.FinishedAt.Add(m.undoFor))) {
		return nil
	}
	return undoGone(rec, m.undoFor)
}

// undoGone is the error of an undo past the limit.
func undoGone(rec *collector.IdentityMerge, limit time.Duration) error {
	finished := "?"
	if rec.FinishedAt != nil {
		finished = rec.FinishedAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	return collector.Errorf(collector.EGONE, "merge %s finished at %s, and a merge can be undone for %s after it finishes "+
		"(--merge-undo-days): what it moved is no longer kept, so it cannot be undone", rec.MergeID, finished, daysText(limit))
}

// daysText writes a limit in days, as --merge-undo-days sets it.
func daysText(d time.Duration) string {
	switch n := d / (24 * time.Hour); {
	case d%(24*time.Hour) != 0:
		return d.String()
	case n == 1:
		return "1 day"
	default:
		return fmt.Sprintf("%d days", n)
	}
}

// ExpireMergeUndos ends the undo of the merges that finished at cutoff
// (now minus the undo limit) or before: it marks up to limit of them no longer
// undoable, then deletes up to limit rows of what the marked merges
// recorded they moved. It returns how many merges it marked and rows it
// deleted together: limit or more means there may be more to do.
//
// Both steps are single statements that D1 also runs, and the mark comes
// first: an interrupted call leaves marked merges whose rows the next one
// deletes, and no undo starts on a merge once marked (the undo's claim
// checks the mark in the same row, so on PostgreSQL the two wait for each
// other instead of racing).
func (s *Store) ExpireMergeUndos(ctx context.Context, q Querier, cutoff time.Time, limit int) (int, error) {
	limit = min(max(limit, 1), MaxExpireBatch)
	res, err := q.ExecContext(ctx, `UPDATE identity_merges SET undo_expired_at = ? WHERE merge_id IN (
		SELECT merge_id FROM identity_merges WHERE state = 'done' AND recorded = 1 AND undo_expired_at IS NULL AND finished_at <= ?
		ORDER BY finished_at LIMIT ?) AND state = 'done' AND undo_expired_at IS NULL`, ms(s.now()), ms(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("expire merge undos: mark: %w", err)
	}
	marked, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("expire merge undos: mark: %w", err)
	}
	// A row value names each row of this WITHOUT ROWID table.
	res, err = q.ExecContext(ctx, `DELETE FROM identity_merge_moves WHERE (merge_id, kind, row_id) IN (
		SELECT m.merge_id, m.kind, m.row_id FROM identity_merges g JOIN identity_merge_moves m ON m.merge_id = g.merge_id
		WHERE g.undo_expired_at IS NOT NULL LIMIT ?)`, limit)
	if err != nil {
		return int(marked), fmt.Errorf("expire merge undos: delete what they moved: %w", err)
	}
	deleted, err := res.RowsAffected()
	if err != nil {
		return int(marked), fmt.Errorf("expire merge undos: delete what they moved: %w", err)
	}
	return int(marked + deleted), nil
}
