-- PostgreSQL's copy of 0007_webhooks.sql.
CREATE TABLE webhooks (
  webhook_id text COLLATE "C" PRIMARY KEY,
  url        text COLLATE "C" NOT NULL,
  events     text NOT NULL,
  secret     text NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE webhook_deliveries (
  delivery_id  text COLLATE "C" PRIMARY KEY,
  webhook_id   text COLLATE "C" NOT NULL,
  type         text COLLATE "C" NOT NULL,
  event_id     text COLLATE "C",
  body         text NOT NULL,
  created_at   bigint NOT NULL,
  attempts     bigint NOT NULL DEFAULT 0,
  next_at      bigint,
  delivered_at bigint,
  failed_at    bigint,
  last_error   text NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, next_at) WHERE next_at IS NOT NULL;
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries ((coalesce(delivered_at, failed_at))) WHERE next_at IS NULL;
