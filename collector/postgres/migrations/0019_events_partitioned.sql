-- The events table partitioned by month, so that old history leaves by
-- dropping a month's partition instead of deleting it row by row from one
-- table that never shrinks (docs/deployment.md#capacity).
--
-- The partition key is event_id: ids are ULIDs, whose first ten characters
-- are their creation time in milliseconds and sort as text (COLLATE "C"),
-- so a month's ids form one range, and event_id, which deduplicates
-- resent events, stays the primary key (a unique index on a partitioned
-- table must contain the key). Ids outside every month's range (a
-- browser whose clock is years off) land in events_default.
--
-- The rows of the old table are copied over with their rowid, and the
-- rowid sequence continues where it was: export cursors stay valid.
-- rowid keeps an index, no longer unique (it would have to include the
-- key); the sequence keeps it unique. The collector's partitions job
-- (postgres.PartitionsJob) makes the months ahead and drops the
-- emptied ones.

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER INDEX events_pkey RENAME TO events_unpartitioned_pkey;
ALTER INDEX events_visit RENAME TO events_unpartitioned_visit;
ALTER INDEX events_rowid RENAME TO events_unpartitioned_rowid;
ALTER SEQUENCE events_rowid_seq RENAME TO events_unpartitioned_rowid_seq;

CREATE TABLE events (
  rowid        bigint GENERATED ALWAYS AS IDENTITY,
  event_id     text COLLATE "C" NOT NULL,
  visit_id     text COLLATE "C" NOT NULL,
  visitor_id   text COLLATE "C" NOT NULL,
  session_id   text COLLATE "C" NOT NULL,
  identity_id  text COLLATE "C",
  page_id      text COLLATE "C" NOT NULL DEFAULT '',
  name         text COLLATE "C" NOT NULL,
  category     text COLLATE "C" NOT NULL,
  timestamp    bigint NOT NULL,
  corrected_at bigint NOT NULL,
  received_at  bigint NOT NULL,
  url          text COLLATE "C" NOT NULL DEFAULT '',
  title        text COLLATE "C" NOT NULL DEFAULT '',
  referrer     text COLLATE "C" NOT NULL DEFAULT '',
  data         text NOT NULL DEFAULT '{}',
  ip           text COLLATE "C" NOT NULL DEFAULT '',
  PRIMARY KEY (event_id)
) PARTITION BY RANGE (event_id);
CREATE INDEX events_visit ON events (visit_id, corrected_at);
CREATE INDEX events_rowid ON events (rowid);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- The smallest ULID of a millisecond: its time in Crockford's base 32,
-- then zeros.
CREATE FUNCTION pg_temp.ulid_floor(ms bigint) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  digits text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  out text := '';
BEGIN
  FOR i IN 1..10 LOOP
    out := substr(digits, (ms % 32)::integer + 1, 1) || out;
    ms := ms / 32;
  END LOOP;
  RETURN out || '0000000000000000';
END $$;

-- One partition a UTC month, from the month of the oldest stored event
-- (by the server's clock) to three months ahead, as the job keeps them.
DO $$
DECLARE
  first timestamp := date_trunc('month', coalesce(
    (SELECT to_timestamp(min(received_at) / 1000.0) FROM events_unpartitioned), now()) AT TIME ZONE 'UTC');
  last timestamp := date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months';
  m timestamp := first;
BEGIN
  WHILE m <= last LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
      to_char(m, '"events_"YYYY_MM'),
      pg_temp.ulid_floor((extract(epoch FROM m) * 1000)::bigint),
      pg_temp.ulid_floor((extract(epoch FROM m + interval '1 month') * 1000)::bigint));
    m := m + interval '1 month';
  END LOOP;
END $$;

INSERT INTO events OVERRIDING SYSTEM VALUE
  SELECT rowid, event_id, visit_id, visitor_id, session_id, identity_id, page_id, name, category,
    timestamp, corrected_at, received_at, url, title, referrer, data, ip
  FROM events_unpartitioned;
SELECT setval(pg_get_serial_sequence('events', 'rowid'), last_value, is_called) FROM events_unpartitioned_rowid_seq;
DROP TABLE events_unpartitioned;

-- The rollups' trigger (0009_insight.sql), now on the partitioned table:
-- PostgreSQL gives each partition its copy.
CREATE TRIGGER stats_uncount AFTER DELETE ON events FOR EACH ROW EXECUTE FUNCTION stats_uncount();
