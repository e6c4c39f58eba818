-- Undoing a merge has a time limit (docs/data-subject.md): what a merge
-- recorded it moved (identity_merge_moves: both identities' rows and
-- visitor-data documents among it, personal data) is kept for
-- --merge-undo-days after the merge finished, then the maintenance job
-- deletes it and sets undo_expired_at, and the merge can no longer be
-- undone. The index finds the merges whose time is up. No BEGIN or
-- COMMIT: the edge applies this file with wrangler.

ALTER TABLE identity_merges ADD COLUMN undo_expired_at INTEGER;
CREATE INDEX identity_merges_undo_due ON identity_merges (finished_at)
  WHERE state = 'done' AND recorded = 1 AND undo_expired_at IS NULL;
