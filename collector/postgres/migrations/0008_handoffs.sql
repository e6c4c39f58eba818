-- PostgreSQL's copy of 0008_handoffs.sql.
CREATE TABLE handoff_uses (
  token_id   text COLLATE "C" PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX handoff_uses_expiry ON handoff_uses (expires_at);
