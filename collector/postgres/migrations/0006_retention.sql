-- PostgreSQL's copy of 0006_retention.sql.
CREATE INDEX IF NOT EXISTS visits_ended ON visits (ended_at) WHERE ended_at IS NOT NULL;
