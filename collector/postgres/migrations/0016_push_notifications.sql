-- PostgreSQL's copy of 0016_push_notifications.sql: notifications stored
-- for the other nodes to read (their data does not fit in a NOTIFY).
CREATE TABLE push_notifications (
  notification_id text COLLATE "C" PRIMARY KEY,
  visit_id        text COLLATE "C" NOT NULL,
  channel         text NOT NULL,
  data            text NOT NULL,
  created_at      bigint NOT NULL
);
CREATE INDEX push_notifications_created ON push_notifications (created_at);
