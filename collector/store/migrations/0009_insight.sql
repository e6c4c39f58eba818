-- Operator insight (SPEC section 8): what enrichment learns about a visit
-- when it opens, the identification a visit reached, the touches that
-- brought an identity, and a per-minute rollup of events for the stats API.
-- Old rows keep the defaults: they were never classified.

ALTER TABLE visits ADD COLUMN browser         TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN browser_version TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN os              TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN device_type     TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN bot             INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visits ADD COLUMN bot_reason      TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN referrer_type   TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN utm             TEXT NOT NULL DEFAULT '{}'; -- {source, medium, campaign, term, content}
ALTER TABLE visits ADD COLUMN utm_source      TEXT NOT NULL DEFAULT '';   -- for breakdowns, without JSON
ALTER TABLE visits ADD COLUMN utm_medium      TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN utm_campaign    TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN click_ids       TEXT NOT NULL DEFAULT '{}'; -- {"gclid": "…", …}
ALTER TABLE visits ADD COLUMN country         TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN region          TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN city            TEXT NOT NULL DEFAULT '';
-- The most identified state the visit reached (anonymous < recognized <
-- authenticated) and whether it was ever verified: a SignOut returns the
-- visit to anonymous, but the stats count what it reached.
ALTER TABLE visits ADD COLUMN reached         TEXT NOT NULL DEFAULT 'anonymous';
ALTER TABLE visits ADD COLUMN was_verified    INTEGER NOT NULL DEFAULT 0;

UPDATE visits SET reached = state, was_verified = verified;

-- {at, landingUrl, referrer, referrerType, utm}: the visit that first
-- brought the identity, and the latest.
ALTER TABLE identities ADD COLUMN first_touch TEXT;
ALTER TABLE identities ADD COLUMN last_touch  TEXT;

-- Events per minute, name and bot flag, kept by ingest in the same
-- transaction as the events (Store.CountEvents: one statement per commit
-- over the rows it inserted, so a resent event, ignored by the events
-- primary key, is not counted twice). Stats read a few thousand rows of it
-- instead of scanning events.
CREATE TABLE stats_events (
  minute INTEGER NOT NULL, -- Unix minutes of corrected_at
  name   TEXT NOT NULL,
  bot    INTEGER NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (minute, name, bot)
) STRICT, WITHOUT ROWID;

INSERT INTO stats_events (minute, name, bot, n)
  SELECT e.corrected_at / 60000, e.name, 0, count(*) FROM events e WHERE true GROUP BY 1, 2;
