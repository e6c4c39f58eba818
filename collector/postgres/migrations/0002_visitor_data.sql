-- PostgreSQL's copy of 0002_visitor_data.sql.
CREATE TABLE visitor_data (
  subject    text COLLATE "C" PRIMARY KEY,
  version    bigint NOT NULL,
  data       text NOT NULL,
  updated_at bigint NOT NULL
);

CREATE TABLE visit_metadata (
  visit_id   text COLLATE "C" PRIMARY KEY,
  version    bigint NOT NULL,
  data       text NOT NULL,
  updated_at bigint NOT NULL
);
