-- PostgreSQL's copy of 0010_identity_merges.sql.
CREATE TABLE identity_aliases (
  user_id     text COLLATE "C" PRIMARY KEY,
  identity_id text COLLATE "C" NOT NULL,
  merge_id    text COLLATE "C" NOT NULL
);
CREATE INDEX identity_aliases_identity ON identity_aliases (identity_id);

CREATE TABLE identity_merges (
  merge_id         text COLLATE "C" PRIMARY KEY,
  identity_id      text COLLATE "C" NOT NULL,
  from_identity_id text COLLATE "C" NOT NULL UNIQUE,
  from_user_id     text COLLATE "C" NOT NULL,
  token_id         text COLLATE "C" NOT NULL,
  state            text COLLATE "C" NOT NULL,
  moved            text NOT NULL,
  started_at       bigint NOT NULL,
  finished_at      bigint
);
CREATE INDEX identity_merges_identity ON identity_merges (identity_id, started_at);
