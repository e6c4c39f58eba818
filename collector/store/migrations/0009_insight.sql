-- Operator insight (docs/stats.md): what enrichment learns about a visit
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

-- Events and page views counted per minute, hour and day (level is the
-- bucket's length in milliseconds, bucket its start), by name or page URL
-- (without query or fragment) and bot flag. Ingest keeps them in the same
-- transaction as the events (Store.CountEvents: one statement per table
-- per commit over the rows it inserted, so a resent event, ignored by the
-- events primary key, is not counted twice). A stats call reads the few
-- rows of the coarsest levels that tile its period instead of the events.
CREATE TABLE stats_events (
  level  INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  name   TEXT NOT NULL,
  bot    INTEGER NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (level, bucket, name, bot)
) STRICT, WITHOUT ROWID;

CREATE TABLE stats_pages (
  level  INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  url    TEXT NOT NULL,
  bot    INTEGER NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (level, bucket, url, bot)
) STRICT, WITHOUT ROWID;

-- The events stored before this migration, counted once (their visits
-- were never classified: not bots).
INSERT INTO stats_events (level, bucket, name, bot, n)
  SELECT l.size, e.corrected_at / l.size * l.size, e.name, 0, count(*)
  FROM events e, (SELECT 60000 AS size UNION ALL SELECT 3600000 UNION ALL SELECT 86400000) l
  WHERE true GROUP BY 1, 2, 3;
INSERT INTO stats_pages (level, bucket, url, bot, n)
  SELECT l.size, e.corrected_at / l.size * l.size,
    CASE WHEN instr(e.url, '?') > 0 THEN substr(e.url, 1, instr(e.url, '?') - 1)
         WHEN instr(e.url, '#') > 0 THEN substr(e.url, 1, instr(e.url, '#') - 1) ELSE e.url END,
    0, count(*)
  FROM events e, (SELECT 60000 AS size UNION ALL SELECT 3600000 UNION ALL SELECT 86400000) l
  WHERE e.name = 'PageEntered' GROUP BY 1, 2, 3;

-- An erased (or expired) event leaves the rollups with it, in the statement
-- that deletes it, so that a repeated erasure (D1 has no transactions)
-- never takes it twice, and an erased person's page URLs leave the disk
-- with them. Erasure deletes events before their visits, so the bot flag
-- is still there to find.
CREATE TRIGGER stats_uncount AFTER DELETE ON events BEGIN
  UPDATE stats_events SET n = n - 1
    WHERE level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND name = OLD.name AND bot = coalesce((SELECT bot FROM visits WHERE visit_id = OLD.visit_id), 0);
  DELETE FROM stats_events
    WHERE level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND name = OLD.name AND n <= 0;
  UPDATE stats_pages SET n = n - 1
    WHERE OLD.name = 'PageEntered'
      AND level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND url = CASE WHEN instr(OLD.url, '?') > 0 THEN substr(OLD.url, 1, instr(OLD.url, '?') - 1)
                     WHEN instr(OLD.url, '#') > 0 THEN substr(OLD.url, 1, instr(OLD.url, '#') - 1) ELSE OLD.url END
      AND bot = coalesce((SELECT bot FROM visits WHERE visit_id = OLD.visit_id), 0);
  DELETE FROM stats_pages
    WHERE OLD.name = 'PageEntered'
      AND level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND url = CASE WHEN instr(OLD.url, '?') > 0 THEN substr(OLD.url, 1, instr(OLD.url, '?') - 1)
                     WHEN instr(OLD.url, '#') > 0 THEN substr(OLD.url, 1, instr(OLD.url, '#') - 1) ELSE OLD.url END
      AND n <= 0;
END;
