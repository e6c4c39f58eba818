-- Undoing a merge (docs/data-subject.md). A merge now records what it
-- moved, row by row, in identity_merge_moves, so that undoing it puts
-- back exactly those rows: the ids of the events, sessions and visits it
-- re-keyed, the merged identity's visit and browser links as they were,
-- the merging identity's links to the same visits and browsers as they
-- were (or that it had none), the aliases and merge records it re-keyed,
-- and both identities' rows and visitor-data documents as they were. The
-- snapshots hold personal data: an erasure deletes them with the merge
-- records, and an undo deletes them once it is done. Merges made before
-- this migration recorded nothing (recorded = 0) and cannot be undone.
--
-- identity_merges is rebuilt without UNIQUE on from_identity_id: an
-- identity whose merge was undone may be merged again. A partial unique
-- index keeps "merged away once" for the merges that stand. No BEGIN or
-- COMMIT: the edge applies this file with wrangler.

CREATE TABLE identity_merges_undoable (
  merge_id         TEXT PRIMARY KEY,
  identity_id      TEXT NOT NULL,         -- the identity merged into; it stays
  from_identity_id TEXT NOT NULL,         -- merged away
  from_user_id     TEXT NOT NULL,
  token_id         TEXT NOT NULL,         -- the API token that asked for it
  state            TEXT NOT NULL,         -- pending, done, undoing or undone
  moved            TEXT NOT NULL,         -- JSON: the counts of what moved
  started_at       INTEGER NOT NULL,
  finished_at      INTEGER,
  recorded         INTEGER NOT NULL DEFAULT 0, -- 1: identity_merge_moves has what it moved
  undone_at        INTEGER,
  undone_by        TEXT                   -- the API token that undid it
) STRICT;
INSERT INTO identity_merges_undoable (merge_id, identity_id, from_identity_id, from_user_id, token_id, state, moved,
  started_at, finished_at)
  SELECT merge_id, identity_id, from_identity_id, from_user_id, token_id, state, moved, started_at, finished_at
  FROM identity_merges;
DROP TABLE identity_merges;
ALTER TABLE identity_merges_undoable RENAME TO identity_merges;
CREATE INDEX identity_merges_identity ON identity_merges (identity_id, started_at);
CREATE UNIQUE INDEX identity_merges_from ON identity_merges (from_identity_id) WHERE state <> 'undone';

CREATE TABLE identity_merge_moves (
  merge_id TEXT NOT NULL,
  kind     TEXT NOT NULL,   -- event, session, visit, visit_link, into_visit_link, visitor_link,
                            -- into_visitor_link, alias, merge, from_identity, into_identity, from_data, into_data
  row_id   TEXT NOT NULL,   -- the row's id: event, session or visit id, visit or visitor id of a link,
                            -- userId of an alias, merge id; '' for the identities and documents
  how      TEXT,            -- a visit link's how; NULL: the identity had no such link
  verified INTEGER,
  at       INTEGER,         -- a link's linked_at
  data     TEXT,            -- JSON: an identity's row or a document, with its version
  PRIMARY KEY (merge_id, kind, row_id)
) STRICT, WITHOUT ROWID;
