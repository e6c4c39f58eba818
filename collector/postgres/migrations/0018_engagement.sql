-- PostgreSQL's copy of 0018_engagement.sql: page categories, engagement
-- categories, rules and the offers made (docs/engagement.md).
ALTER TABLE pages ADD COLUMN categories text;

CREATE TABLE engagement_categories (
  category_id text COLLATE "C" PRIMARY KEY,
  name        text COLLATE "C" NOT NULL UNIQUE,
  tags        text NOT NULL,
  version     bigint NOT NULL,
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL
);

CREATE TABLE engagement_rules (
  rule_id    text COLLATE "C" PRIMARY KEY,
  body       text NOT NULL,
  version    bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);

CREATE TABLE engagement_offers (
  offer_id    text COLLATE "C" PRIMARY KEY,
  rule_id     text COLLATE "C" NOT NULL,
  visit_id    text COLLATE "C" NOT NULL,
  visitor_id  text COLLATE "C" NOT NULL,
  offered_at  bigint NOT NULL,
  expires_at  bigint NOT NULL,
  outcome     text,
  answered_at bigint,
  goal_at     bigint
);
CREATE INDEX engagement_offers_visitor ON engagement_offers (visitor_id, offered_at);
CREATE INDEX engagement_offers_rule ON engagement_offers (rule_id, offered_at);
CREATE INDEX engagement_offers_visit ON engagement_offers (visit_id);
