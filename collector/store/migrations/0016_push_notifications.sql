-- Notifications on their way to the pages of a visit connected to other
-- collectors of the same PostgreSQL database (docs/deployment-push.md): a
-- notification's data (up to 16 KiB) does not fit in a NOTIFY payload, so
-- the node that takes the request stores it here and announces its id;
-- the others read it. A row is needed for a few seconds; the node that
-- wrote one deletes those older than a minute. One SQLite collector is
-- one node and never writes here: the table exists so that both engines'
-- schemas stay numbered alike.
CREATE TABLE push_notifications (
  notification_id TEXT PRIMARY KEY,
  visit_id        TEXT NOT NULL,
  channel         TEXT NOT NULL,
  data            TEXT NOT NULL,
  created_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX push_notifications_created ON push_notifications (created_at);
