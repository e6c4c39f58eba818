-- The subject a visitorData.changed delivery announces ("identity:<id>" or
-- "visitor:<id>"), read from the copy of the document its body holds, as
-- SQLite's 0013 does: an erasure finds the pending copies of everyone it
-- erases by this column's index. PostgreSQL's generated columns are
-- stored (computed when the row is written or its body changes).
ALTER TABLE webhook_deliveries ADD COLUMN subject text COLLATE "C" GENERATED ALWAYS AS (
  CASE WHEN type = 'visitorData.changed' AND json_valid(body)
    THEN json_extract(body, '$.data.subject') END) STORED;
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (subject) WHERE type = 'visitorData.changed';
