-- Webhooks (docs/integrations.md#webhooks): targets, and the outbox of their deliveries.
-- A delivery row is written in the same commit as what it announces, so
-- that nothing is announced that did not happen, and nothing that
-- happened goes unannounced across a crash.

CREATE TABLE webhooks (
  webhook_id TEXT PRIMARY KEY,
  url        TEXT NOT NULL,
  events     TEXT NOT NULL,         -- JSON array of event types
  secret     TEXT NOT NULL,         -- whsec_<base64>: signs, so it cannot be hashed
  created_at INTEGER NOT NULL
) STRICT;

-- One row per (webhook, announcement). delivery_id is the webhook-id
-- header, the same on every attempt, so that receivers deduplicate.
-- next_at is when to try next (NULL once delivered or given up); a worker
-- that claims a row moves next_at past the attempt's timeout, so that a
-- crash mid-attempt only delays it.
CREATE TABLE webhook_deliveries (
  delivery_id  TEXT PRIMARY KEY,
  webhook_id   TEXT NOT NULL,
  type         TEXT NOT NULL,
  event_id     TEXT,                  -- the event it announces; its body is built when sent
  body         TEXT NOT NULL,         -- else the body itself (visitorData.changed); emptied once done
  created_at   INTEGER NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_at      INTEGER,
  delivered_at INTEGER,
  failed_at    INTEGER,
  last_error   TEXT NOT NULL DEFAULT ''
) STRICT;
-- Pending deliveries only: the worker's claims and the due scan. A new
-- delivery (written in ingest's commit) updates this and the primary key,
-- nothing else.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, next_at) WHERE next_at IS NOT NULL;
-- Settled deliveries only, by when: the purge of old ones.
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (coalesce(delivered_at, failed_at)) WHERE next_at IS NULL;
