-- Handoff tokens already redeemed (docs/identity.md#cross-domain-handoff):
-- a token is accepted once. A row is needed only until its token expires
-- (two minutes at most); RedeemHandoff deletes the expired ones.
CREATE TABLE handoff_uses (
  token_id   TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX handoff_uses_expiry ON handoff_uses (expires_at);
