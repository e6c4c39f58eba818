-- The erasure audit (docs/data-subject.md): one row an erasure, without
-- personal data. It names the erased ids (random, naming nobody once the
-- rows that tied them to a person are gone), the API token that asked for
-- it, and the rows removed by table; never a userId, URL or document.
--
-- The row is written before the first row is deleted, as pending, with
-- the counts taken then. On D1, which has no transactions, an erasure that
-- stopped halfway stays pending, and erasing the same subject again
-- finishes it under the same row: the partial unique index lets a subject
-- have at most one pending erasure, while a browser erased, seen again and
-- erased later gets a second row.

CREATE TABLE erasures (
  erasure_id          TEXT PRIMARY KEY,
  kind                TEXT NOT NULL,  -- identity or visitor
  subject_id          TEXT NOT NULL,  -- the identity or visitor erased
  merged_identity_ids TEXT NOT NULL,  -- JSON array: identities merged into it before
  visitor_ids         TEXT NOT NULL,  -- JSON array: browsers whose data went with it
  token_id            TEXT NOT NULL,  -- the API token that asked for it
  state               TEXT NOT NULL,  -- pending or done
  removed             TEXT NOT NULL,  -- JSON: rows removed, by table
  started_at          INTEGER NOT NULL,
  finished_at         INTEGER
) STRICT;
CREATE UNIQUE INDEX erasures_pending ON erasures (kind, subject_id) WHERE state = 'pending';
CREATE INDEX erasures_started ON erasures (started_at, erasure_id);
