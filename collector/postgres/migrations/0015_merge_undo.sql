-- PostgreSQL's copy of 0015_merge_undo.sql: merges record what they moved
-- (identity_merge_moves) so that they can be undone; "merged away once"
-- holds for the merges that stand (a partial unique index), so an
-- identity whose merge was undone may be merged again. PostgreSQL alters
-- the table in place where SQLite rebuilds it.
ALTER TABLE identity_merges DROP CONSTRAINT identity_merges_from_identity_id_key;
ALTER TABLE identity_merges ADD COLUMN recorded bigint NOT NULL DEFAULT 0;
ALTER TABLE identity_merges ADD COLUMN undone_at bigint;
ALTER TABLE identity_merges ADD COLUMN undone_by text COLLATE "C";
CREATE UNIQUE INDEX identity_merges_from ON identity_merges (from_identity_id) WHERE state <> 'undone';

CREATE TABLE identity_merge_moves (
  merge_id text COLLATE "C" NOT NULL,
  kind     text COLLATE "C" NOT NULL,
  row_id   text COLLATE "C" NOT NULL,
  how      text COLLATE "C",
  verified bigint,
  at       bigint,
  data     text,
  PRIMARY KEY (merge_id, kind, row_id)
);
