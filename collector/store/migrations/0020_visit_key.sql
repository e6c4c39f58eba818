-- Each visit gets an integer key in creation order, never reused; the
-- events index goes by it (docs/operations.md#the-events-index). The
-- rollups' trigger reads visits: it is dropped and made again.
DROP TRIGGER stats_uncount;

CREATE TABLE visits_rebuilt (
  visit_key       INTEGER PRIMARY KEY AUTOINCREMENT,
  visit_id        TEXT NOT NULL UNIQUE,
  visitor_id      TEXT NOT NULL,
  identity_id     TEXT,
  state           TEXT NOT NULL DEFAULT 'anonymous',
  verified        INTEGER NOT NULL DEFAULT 0,
  session_id      TEXT NOT NULL,
  started_at      INTEGER NOT NULL,
  last_seen_at    INTEGER NOT NULL,
  ended_at        INTEGER,
  landing_url     TEXT NOT NULL DEFAULT '',
  referrer        TEXT NOT NULL DEFAULT '',
  user_agent      TEXT NOT NULL DEFAULT '',
  ip              TEXT NOT NULL DEFAULT '',
  browser         TEXT NOT NULL DEFAULT '',
  browser_version TEXT NOT NULL DEFAULT '',
  os              TEXT NOT NULL DEFAULT '',
  device_type     TEXT NOT NULL DEFAULT '',
  bot             INTEGER NOT NULL DEFAULT 0,
  bot_reason      TEXT NOT NULL DEFAULT '',
  referrer_type   TEXT NOT NULL DEFAULT '',
  utm             TEXT NOT NULL DEFAULT '{}',
  utm_source      TEXT NOT NULL DEFAULT '',
  utm_medium      TEXT NOT NULL DEFAULT '',
  utm_campaign    TEXT NOT NULL DEFAULT '',
  click_ids       TEXT NOT NULL DEFAULT '{}',
  country         TEXT NOT NULL DEFAULT '',
  region          TEXT NOT NULL DEFAULT '',
  city            TEXT NOT NULL DEFAULT '',
  reached         TEXT NOT NULL DEFAULT 'anonymous',
  was_verified    INTEGER NOT NULL DEFAULT 0,
  cookieless      INTEGER NOT NULL DEFAULT 0,
  event_count     INTEGER NOT NULL DEFAULT 0
) STRICT;

INSERT INTO visits_rebuilt (visit_key, visit_id, visitor_id, identity_id, state, verified, session_id,
    started_at, last_seen_at, ended_at, landing_url, referrer, user_agent, ip,
    browser, browser_version, os, device_type, bot, bot_reason, referrer_type,
    utm, utm_source, utm_medium, utm_campaign, click_ids, country, region, city,
    reached, was_verified, cookieless, event_count)
  SELECT row_number() OVER (ORDER BY started_at, visit_id), visit_id, visitor_id, identity_id, state, verified, session_id,
    started_at, last_seen_at, ended_at, landing_url, referrer, user_agent, ip,
    browser, browser_version, os, device_type, bot, bot_reason, referrer_type,
    utm, utm_source, utm_medium, utm_campaign, click_ids, country, region, city,
    reached, was_verified, cookieless, event_count
  FROM visits;
DROP TABLE visits;
ALTER TABLE visits_rebuilt RENAME TO visits;
CREATE INDEX visits_visitor ON visits (visitor_id, started_at);
CREATE INDEX visits_started ON visits (started_at);
CREATE INDEX visits_open ON visits (last_seen_at) WHERE ended_at IS NULL;
CREATE INDEX visits_ended ON visits (ended_at) WHERE ended_at IS NOT NULL;

ALTER TABLE events ADD COLUMN visit_key INTEGER;
UPDATE events SET visit_key = (SELECT v.visit_key FROM visits v WHERE v.visit_id = events.visit_id);
DROP INDEX events_visit;
CREATE INDEX events_visit ON events (visit_key, corrected_at);

CREATE TRIGGER stats_uncount AFTER DELETE ON events BEGIN
  UPDATE stats_events SET n = n - 1
    WHERE level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND name = OLD.name AND bot = coalesce((SELECT bot FROM visits WHERE visit_key = OLD.visit_key), 0);
  DELETE FROM stats_events
    WHERE level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND name = OLD.name AND n <= 0;
  UPDATE stats_pages SET n = n - 1
    WHERE OLD.name = 'PageEntered'
      AND level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND url = CASE WHEN instr(OLD.url, '?') > 0 THEN substr(OLD.url, 1, instr(OLD.url, '?') - 1)
                     WHEN instr(OLD.url, '#') > 0 THEN substr(OLD.url, 1, instr(OLD.url, '#') - 1) ELSE OLD.url END
      AND bot = coalesce((SELECT bot FROM visits WHERE visit_key = OLD.visit_key), 0);
  DELETE FROM stats_pages
    WHERE OLD.name = 'PageEntered'
      AND level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND url = CASE WHEN instr(OLD.url, '?') > 0 THEN substr(OLD.url, 1, instr(OLD.url, '?') - 1)
                     WHEN instr(OLD.url, '#') > 0 THEN substr(OLD.url, 1, instr(OLD.url, '#') - 1) ELSE OLD.url END
      AND n <= 0;
END;
