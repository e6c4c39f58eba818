-- Browser keys (docs/security.md#browser-key): a visitor id is a name, not a key. The
-- collector gives each visitor a random key at its first contact and keeps
-- only its SHA-256 (hex); a request naming the visitor must present the
-- key. NULL for visitors stored before keys existed: the next request that
-- names one claims it (first come, first served).
ALTER TABLE visitors ADD COLUMN key_hash TEXT;

-- Recognition tokens revoked by SignOut, by token id, until they expire.
CREATE TABLE revoked_tokens (
  token_id   TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
