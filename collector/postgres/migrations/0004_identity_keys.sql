-- PostgreSQL's copy of 0004_identity_keys.sql.
ALTER TABLE visitors ADD COLUMN key_hash text COLLATE "C";

CREATE TABLE revoked_tokens (
  token_id   text COLLATE "C" PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
