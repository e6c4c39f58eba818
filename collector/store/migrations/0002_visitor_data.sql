-- Shareable visitor data: one document per subject ('identity:<id>' or
-- 'visitor:<id>'), written by compare-and-set on version.
CREATE TABLE visitor_data (
  subject    TEXT PRIMARY KEY,
  version    INTEGER NOT NULL,
  data       TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

-- Internal metadata per visit: operators and backends only, never a browser.
CREATE TABLE visit_metadata (
  visit_id   TEXT PRIMARY KEY,
  version    INTEGER NOT NULL,
  data       TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
