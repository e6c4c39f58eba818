-- PostgreSQL's copy of 0021_merge_undo_limit.sql: a merge can be undone
-- for --merge-undo-days; then the maintenance job deletes what it
-- recorded it moved and sets undo_expired_at.
ALTER TABLE identity_merges ADD COLUMN undo_expired_at bigint;
CREATE INDEX identity_merges_undo_due ON identity_merges (finished_at)
  WHERE state = 'done' AND recorded = 1 AND undo_expired_at IS NULL;
