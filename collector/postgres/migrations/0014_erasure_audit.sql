-- PostgreSQL's copy of 0014_erasure_audit.sql: one row an erasure,
-- without personal data.
CREATE TABLE erasures (
  erasure_id          text COLLATE "C" PRIMARY KEY,
  kind                text COLLATE "C" NOT NULL,
  subject_id          text COLLATE "C" NOT NULL,
  merged_identity_ids text NOT NULL,
  visitor_ids         text NOT NULL,
  token_id            text COLLATE "C" NOT NULL,
  state               text COLLATE "C" NOT NULL,
  removed             text NOT NULL,
  started_at          bigint NOT NULL,
  finished_at         bigint
);
CREATE UNIQUE INDEX erasures_pending ON erasures (kind, subject_id) WHERE state = 'pending';
CREATE INDEX erasures_started ON erasures (started_at, erasure_id);
