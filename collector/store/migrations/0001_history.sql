-- Visitors, visits, sessions, pages, events, identities and their links.
-- Times are Unix milliseconds (INTEGER). Every statement here and in the
-- queries runs on SQLite and on Cloudflare D1.

CREATE TABLE visitors (
  visitor_id    TEXT PRIMARY KEY,
  first_seen_at INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE identities (
  identity_id   TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL UNIQUE,
  attributes    TEXT NOT NULL DEFAULT '{}',
  first_seen_at INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL
) STRICT;

-- Which browsers (visitors) an identity used; filled at SignIn and on
-- verified recognition.
CREATE TABLE identity_visitors (
  identity_id TEXT NOT NULL,
  visitor_id  TEXT NOT NULL,
  linked_at   INTEGER NOT NULL,
  PRIMARY KEY (identity_id, visitor_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX identity_visitors_visitor ON identity_visitors (visitor_id);

CREATE TABLE visits (
  visit_id     TEXT PRIMARY KEY,
  visitor_id   TEXT NOT NULL,
  identity_id  TEXT,                 -- current identity, NULL when anonymous
  state        TEXT NOT NULL DEFAULT 'anonymous',
  verified     INTEGER NOT NULL DEFAULT 0,
  session_id   TEXT NOT NULL,        -- current session
  started_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,     -- refreshed at most every few seconds
  ended_at     INTEGER,
  landing_url  TEXT NOT NULL DEFAULT '',
  referrer     TEXT NOT NULL DEFAULT '',
  user_agent   TEXT NOT NULL DEFAULT '',
  ip           TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX visits_visitor ON visits (visitor_id, started_at);
CREATE INDEX visits_started ON visits (started_at);
CREATE INDEX visits_open ON visits (last_seen_at) WHERE ended_at IS NULL;

-- How an identity is linked to a visit: authenticated, recognized, or
-- stitched (an anonymous visit of the same browser before a SignIn).
CREATE TABLE visit_identities (
  visit_id    TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  how         TEXT NOT NULL,
  verified    INTEGER NOT NULL,
  linked_at   INTEGER NOT NULL,
  PRIMARY KEY (visit_id, identity_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX visit_identities_identity ON visit_identities (identity_id, linked_at);

CREATE TABLE sessions (
  session_id  TEXT PRIMARY KEY,
  visit_id    TEXT NOT NULL,
  identity_id TEXT,
  state       TEXT NOT NULL,
  verified    INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER
) STRICT;
CREATE INDEX sessions_visit ON sessions (visit_id, started_at);

CREATE TABLE pages (
  page_id     TEXT PRIMARY KEY,
  visit_id    TEXT NOT NULL,
  url         TEXT NOT NULL DEFAULT '',
  title       TEXT NOT NULL DEFAULT '',
  referrer    TEXT NOT NULL DEFAULT '',
  entered_at  INTEGER NOT NULL,
  exited_at   INTEGER,
  duration_ms INTEGER
) STRICT;
CREATE INDEX pages_visit ON pages (visit_id, entered_at);

-- One row per eventId: the primary key makes resending harmless.
-- corrected_at = timestamp + (received_at - sent_at); queries order by it.
CREATE TABLE events (
  event_id     TEXT PRIMARY KEY,
  visit_id     TEXT NOT NULL,
  visitor_id   TEXT NOT NULL,
  session_id   TEXT NOT NULL,
  identity_id  TEXT,
  page_id      TEXT NOT NULL DEFAULT '',
  name         TEXT NOT NULL,
  category     TEXT NOT NULL,
  timestamp    INTEGER NOT NULL,
  corrected_at INTEGER NOT NULL,
  received_at  INTEGER NOT NULL,
  url          TEXT NOT NULL DEFAULT '',
  title        TEXT NOT NULL DEFAULT '',
  referrer     TEXT NOT NULL DEFAULT '',
  data         TEXT NOT NULL DEFAULT '{}',
  ip           TEXT NOT NULL DEFAULT ''
) STRICT;
-- The one secondary index on the hot table: every history query reaches
-- events through a visit.
CREATE INDEX events_visit ON events (visit_id, corrected_at);

-- API tokens, stored as SHA-256 hashes; scopes space-separated.
CREATE TABLE tokens (
  token_id   TEXT PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  scopes     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;

-- Settings that must survive restarts, such as the recognition key.
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
