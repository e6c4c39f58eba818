-- PostgreSQL's copy of 0009_insight.sql. The SQLite migration also counts
-- the events stored before it into the rollups; a PostgreSQL database has
-- none then (it is created at this schema), so only the tables are made.

ALTER TABLE visits ADD COLUMN browser         text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN browser_version text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN os              text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN device_type     text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN bot             integer NOT NULL DEFAULT 0;
ALTER TABLE visits ADD COLUMN bot_reason      text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN referrer_type   text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN utm             text NOT NULL DEFAULT '{}';
ALTER TABLE visits ADD COLUMN utm_source      text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN utm_medium      text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN utm_campaign    text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN click_ids       text NOT NULL DEFAULT '{}';
ALTER TABLE visits ADD COLUMN country         text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN region          text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN city            text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN reached         text COLLATE "C" NOT NULL DEFAULT 'anonymous';
ALTER TABLE visits ADD COLUMN was_verified    integer NOT NULL DEFAULT 0;

ALTER TABLE identities ADD COLUMN first_touch text;
ALTER TABLE identities ADD COLUMN last_touch  text;

CREATE TABLE stats_events (
  level  bigint NOT NULL,
  bucket bigint NOT NULL,
  name   text COLLATE "C" NOT NULL,
  bot    integer NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (level, bucket, name, bot)
);

CREATE TABLE stats_pages (
  level  bigint NOT NULL,
  bucket bigint NOT NULL,
  url    text COLLATE "C" NOT NULL,
  bot    integer NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (level, bucket, url, bot)
);

-- An erased (or expired) event leaves the rollups with it, in the
-- statement that deletes it (the SQLite trigger's twin).
CREATE FUNCTION stats_uncount() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  b integer := coalesce((SELECT bot FROM visits WHERE visit_id = OLD.visit_id), 0);
  page text := CASE WHEN strpos(OLD.url, '?') > 0 THEN substr(OLD.url, 1, strpos(OLD.url, '?') - 1)
                    WHEN strpos(OLD.url, '#') > 0 THEN substr(OLD.url, 1, strpos(OLD.url, '#') - 1) ELSE OLD.url END;
BEGIN
  UPDATE stats_events SET n = n - 1
    WHERE level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND name = OLD.name AND bot = b;
  DELETE FROM stats_events
    WHERE level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
      AND name = OLD.name AND n <= 0;
  IF OLD.name = 'PageEntered' THEN
    UPDATE stats_pages SET n = n - 1
      WHERE level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
        AND url = page AND bot = b;
    DELETE FROM stats_pages
      WHERE level IN (60000, 3600000, 86400000) AND bucket = OLD.corrected_at / level * level
        AND url = page AND n <= 0;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER stats_uncount AFTER DELETE ON events FOR EACH ROW EXECUTE FUNCTION stats_uncount();
