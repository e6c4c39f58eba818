-- The store's 0020_visit_key.sql: each visit gets a small integer key, in
-- creation order, and the events index goes by it instead of the visit's
-- 26-character id (docs/operations.md#the-events-index). Here the key is a
-- bigint identity and, as in SQLite, the primary key (visit_id stays
-- unique); the existing visits are numbered in the order they started,
-- and the sequence continues after them. On the partitioned events table (0019) the new column and
-- index reach every partition.

ALTER TABLE visits ADD COLUMN visit_key bigint;
UPDATE visits v SET visit_key = n.k
  FROM (SELECT visit_id, row_number() OVER (ORDER BY started_at, visit_id) AS k FROM visits) n
  WHERE n.visit_id = v.visit_id;
ALTER TABLE visits ALTER COLUMN visit_key SET NOT NULL;
ALTER TABLE visits ALTER COLUMN visit_key ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('visits', 'visit_key'), coalesce(max(visit_key), 0) + 1, false) FROM visits;
ALTER TABLE visits DROP CONSTRAINT visits_pkey;
ALTER TABLE visits ADD PRIMARY KEY (visit_key);
ALTER TABLE visits ADD CONSTRAINT visits_visit_id_key UNIQUE (visit_id);

-- NULL only for an event whose visit is gone (erasure and retention delete
-- the events first).
ALTER TABLE events ADD COLUMN visit_key bigint;
UPDATE events e SET visit_key = v.visit_key FROM visits v WHERE v.visit_id = e.visit_id;
DROP INDEX events_visit;
CREATE INDEX events_visit ON events (visit_key, corrected_at);
