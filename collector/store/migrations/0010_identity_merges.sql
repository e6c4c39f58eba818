-- Identity merges (docs/identity.md#merging-two-identities). An identity merged into another
-- leaves an alias, so that its userId resolves to the identity that took
-- its history in (a later SignIn of the old userId lands there), and a
-- record of the merge: pending while it runs, done when it finished. On D1,
-- which has no transactions, a merge that stopped halfway stays pending,
-- and running it again finishes it.
--
-- No index is added to the history tables: a merge reaches its rows
-- through the identity's visits (visit_identities, events_visit).

CREATE TABLE identity_aliases (
  user_id     TEXT PRIMARY KEY,  -- the userId of an identity merged away
  identity_id TEXT NOT NULL,     -- the identity it resolves to now
  merge_id    TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX identity_aliases_identity ON identity_aliases (identity_id);

CREATE TABLE identity_merges (
  merge_id         TEXT PRIMARY KEY,
  identity_id      TEXT NOT NULL,         -- the identity merged into; it stays
  from_identity_id TEXT NOT NULL UNIQUE,  -- merged away: that happens once
  from_user_id     TEXT NOT NULL,
  token_id         TEXT NOT NULL,         -- the API token that asked for it
  state            TEXT NOT NULL,         -- pending or done
  moved            TEXT NOT NULL,         -- JSON: the counts of what moved
  started_at       INTEGER NOT NULL,
  finished_at      INTEGER
) STRICT;
CREATE INDEX identity_merges_identity ON identity_merges (identity_id, started_at);
