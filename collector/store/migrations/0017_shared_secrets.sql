-- What every collector on one database must share and no collector may
-- make up for itself: the recognition key (which also derives the handoff
-- and cookie keys) and the record of the admin token the first node made
-- (its SHA-256, as the tokens table keeps it). On PostgreSQL the first
-- node to start writes them and every node reads them
-- (docs/deployment.md). A SQLite collector is one process on one machine
-- and keeps them in its data directory, as before: here the table stays
-- empty.
CREATE TABLE shared_secrets (
  name       TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
