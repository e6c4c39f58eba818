-- Engagement (docs/engagement.md): categories of pages, rules that make
-- offers, and the offers made with their outcomes. A page keeps the names
-- of the categories it matched when it was stored (a JSON array, NULL for
-- none), so that stats can break down by category.
ALTER TABLE pages ADD COLUMN categories TEXT;

CREATE TABLE engagement_categories (
  category_id TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  tags        TEXT NOT NULL,
  version     INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE engagement_rules (
  rule_id    TEXT PRIMARY KEY,
  body       TEXT NOT NULL,
  version    INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

-- One row per offer made. outcome is NULL while the offer is open, then
-- accepted, declined or timed_out; goal_at is when the visit that accepted
-- it reached the rule's goal.
CREATE TABLE engagement_offers (
  offer_id    TEXT PRIMARY KEY,
  rule_id     TEXT NOT NULL,
  visit_id    TEXT NOT NULL,
  visitor_id  TEXT NOT NULL,
  offered_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  outcome     TEXT,
  answered_at INTEGER,
  goal_at     INTEGER
) STRICT;
CREATE INDEX engagement_offers_visitor ON engagement_offers (visitor_id, offered_at);
CREATE INDEX engagement_offers_rule ON engagement_offers (rule_id, offered_at);
CREATE INDEX engagement_offers_visit ON engagement_offers (visit_id);
