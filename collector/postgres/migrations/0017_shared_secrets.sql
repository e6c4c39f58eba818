-- PostgreSQL's copy of 0017_shared_secrets.sql: the recognition key and
-- the hash of the admin token the first node made, written once by the
-- first collector to start (INSERT … ON CONFLICT DO NOTHING, then read
-- back, so nodes that start at the same moment agree) and read by every
-- node (docs/deployment.md).
CREATE TABLE shared_secrets (
  name       text COLLATE "C" PRIMARY KEY,
  value      text NOT NULL,
  created_at bigint NOT NULL
);
