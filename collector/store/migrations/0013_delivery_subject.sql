-- The subject a visitorData.changed delivery announces ("identity:<id>" or
-- "visitor:<id>"), read from the copy of the document its body holds. An
-- erasure deletes the pending copies of everyone it erases, including the
-- identities merged into the erased one, and finds them by this column's
-- index instead of parsing every body of the outbox.
--
-- A generated column: the writers (the outbox, the worker) stay as they
-- are, the rows written before this migration have it at once, and a body
-- emptied once the delivery settled names no one any more. Event
-- deliveries (the ingest path) skip the index: its condition is on type.
ALTER TABLE webhook_deliveries ADD COLUMN subject TEXT GENERATED ALWAYS AS (
  CASE WHEN type = 'visitorData.changed' AND json_valid(body)
    THEN CAST(json_extract(body, '$.data.subject') AS TEXT) END) VIRTUAL;
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (subject) WHERE type = 'visitorData.changed';
