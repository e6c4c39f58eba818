-- Retention (--retention) finds the visits that ended before a cutoff,
-- oldest first, without scanning the table.
CREATE INDEX IF NOT EXISTS visits_ended ON visits (ended_at) WHERE ended_at IS NOT NULL;
