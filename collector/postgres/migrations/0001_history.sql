-- PostgreSQL's copy of the store's 0001_history.sql: the same tables,
-- columns and indexes, in PostgreSQL's types. The choices, kept in every
-- migration of this folder:
--   - times are Unix milliseconds in bigint, as in SQLite: the store's Go
--     and SQL compute with them (rollup buckets, cursors) the same way;
--   - flags are integer 0/1, as in SQLite;
--   - JSON documents are text, so that a document reads back byte for byte
--     as it was written, as it does in SQLite; SQL that looks inside casts
--     to jsonb;
--   - text compares and sorts byte by byte (COLLATE "C"), as SQLite's
--     BINARY does, whatever the database's default collation: ids are
--     cursors, and their order must not depend on the server's locale;
--   - events and tokens carry an explicit rowid (SQLite's implicit one):
--     ingest counts the rows a transaction inserted by it, and the export
--     pages by it.

-- The SQLite functions the store's SQL calls, for PostgreSQL.

-- max and min of two values (SQLite's scalar forms; the one-argument
-- aggregates are PostgreSQL's own).
CREATE FUNCTION max(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT greatest($1, $2) $$;
CREATE FUNCTION min(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT least($1, $2) $$;

-- instr(haystack, needle): the 1-based position, 0 when absent.
CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT strpos($1, $2) $$;

-- json(text): the text as JSON; raises an error when it is not JSON, as
-- SQLite's does.
CREATE FUNCTION json(text) RETURNS json LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT $1::json $$;

-- json_valid(text): whether the text is JSON.
CREATE FUNCTION json_valid(doc text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  PERFORM doc::jsonb;
  RETURN doc IS NOT NULL;
EXCEPTION WHEN others THEN
  RETURN false;
END $$;

-- json_extract(text, '$.a.b'): the value at a path of object keys, as text.
CREATE FUNCTION json_extract(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT doc::jsonb #>> string_to_array(substr(path, 3), '.') $$;

-- json_each(text) over a JSON array: its elements as text, in a column
-- named value (the store passes lists of ids as one JSON array).
CREATE FUNCTION json_each(text) RETURNS TABLE (value text) LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT jsonb_array_elements_text($1::jsonb) $$;

-- json_patch(target, patch): RFC 7396 merge patch, as SQLite's: objects
-- merge key by key, a null removes a key, anything else replaces. Like
-- SQLite's, it keeps the keys in their order (the target's, then the
-- patch's new ones) and writes objects without spaces, so that a document
-- reads back the same from either engine. Values it does not merge keep
-- their text.
CREATE FUNCTION json_patch(target text, patch text) RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  t json := target::json;
  p json := patch::json;
  out text := '';
  sep text := '';
  k text;
  v json;
  pv json;
BEGIN
  IF p IS NULL OR json_typeof(p) <> 'object' THEN
    RETURN patch;
  END IF;
  IF t IS NULL OR json_typeof(t) <> 'object' THEN
    t := '{}';
  END IF;
  FOR k, v IN SELECT * FROM json_each(t) LOOP
    pv := p -> k;
    IF pv IS NULL THEN
      out := out || sep || to_json(k)::text || ':' || v::text;
      sep := ',';
    ELSIF json_typeof(pv) <> 'null' THEN
      out := out || sep || to_json(k)::text || ':' || json_patch(v::text, pv::text);
      sep := ',';
    END IF;
  END LOOP;
  FOR k, v IN SELECT * FROM json_each(p) LOOP
    IF t -> k IS NULL AND json_typeof(v) <> 'null' THEN
      out := out || sep || to_json(k)::text || ':' || json_patch(NULL, v::text);
      sep := ',';
    END IF;
  END LOOP;
  RETURN '{' || out || '}';
END $$;

-- group_concat(value, separator), SQLite's string aggregate.
CREATE FUNCTION group_concat_step(acc text, value text, sep text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN value IS NULL THEN acc WHEN acc IS NULL THEN value ELSE acc || sep || value END $$;
CREATE AGGREGATE group_concat(text, text) (SFUNC = group_concat_step, STYPE = text);

CREATE TABLE visitors (
  visitor_id    text COLLATE "C" PRIMARY KEY,
  first_seen_at bigint NOT NULL,
  last_seen_at  bigint NOT NULL
);

CREATE TABLE identities (
  identity_id   text COLLATE "C" PRIMARY KEY,
  user_id       text COLLATE "C" NOT NULL UNIQUE,
  attributes    text NOT NULL DEFAULT '{}',
  first_seen_at bigint NOT NULL,
  last_seen_at  bigint NOT NULL
);

CREATE TABLE identity_visitors (
  identity_id text COLLATE "C" NOT NULL,
  visitor_id  text COLLATE "C" NOT NULL,
  linked_at   bigint NOT NULL,
  PRIMARY KEY (identity_id, visitor_id)
);
CREATE INDEX identity_visitors_visitor ON identity_visitors (visitor_id);

CREATE TABLE visits (
  visit_id     text COLLATE "C" PRIMARY KEY,
  visitor_id   text COLLATE "C" NOT NULL,
  identity_id  text COLLATE "C",
  state        text COLLATE "C" NOT NULL DEFAULT 'anonymous',
  verified     integer NOT NULL DEFAULT 0,
  session_id   text COLLATE "C" NOT NULL,
  started_at   bigint NOT NULL,
  last_seen_at bigint NOT NULL,
  ended_at     bigint,
  landing_url  text COLLATE "C" NOT NULL DEFAULT '',
  referrer     text COLLATE "C" NOT NULL DEFAULT '',
  user_agent   text COLLATE "C" NOT NULL DEFAULT '',
  ip           text COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX visits_visitor ON visits (visitor_id, started_at);
CREATE INDEX visits_started ON visits (started_at);
CREATE INDEX visits_open ON visits (last_seen_at) WHERE ended_at IS NULL;

CREATE TABLE visit_identities (
  visit_id    text COLLATE "C" NOT NULL,
  identity_id text COLLATE "C" NOT NULL,
  how         text COLLATE "C" NOT NULL,
  verified    integer NOT NULL,
  linked_at   bigint NOT NULL,
  PRIMARY KEY (visit_id, identity_id)
);
CREATE INDEX visit_identities_identity ON visit_identities (identity_id, linked_at);

CREATE TABLE sessions (
  session_id  text COLLATE "C" PRIMARY KEY,
  visit_id    text COLLATE "C" NOT NULL,
  identity_id text COLLATE "C",
  state       text COLLATE "C" NOT NULL,
  verified    integer NOT NULL,
  started_at  bigint NOT NULL,
  ended_at    bigint
);
CREATE INDEX sessions_visit ON sessions (visit_id, started_at);

CREATE TABLE pages (
  page_id     text COLLATE "C" PRIMARY KEY,
  visit_id    text COLLATE "C" NOT NULL,
  url         text COLLATE "C" NOT NULL DEFAULT '',
  title       text COLLATE "C" NOT NULL DEFAULT '',
  referrer    text COLLATE "C" NOT NULL DEFAULT '',
  entered_at  bigint NOT NULL,
  exited_at   bigint,
  duration_ms bigint
);
CREATE INDEX pages_visit ON pages (visit_id, entered_at);

CREATE TABLE events (
  rowid        bigint GENERATED ALWAYS AS IDENTITY,
  event_id     text COLLATE "C" PRIMARY KEY,
  visit_id     text COLLATE "C" NOT NULL,
  visitor_id   text COLLATE "C" NOT NULL,
  session_id   text COLLATE "C" NOT NULL,
  identity_id  text COLLATE "C",
  page_id      text COLLATE "C" NOT NULL DEFAULT '',
  name         text COLLATE "C" NOT NULL,
  category     text COLLATE "C" NOT NULL,
  timestamp    bigint NOT NULL,
  corrected_at bigint NOT NULL,
  received_at  bigint NOT NULL,
  url          text COLLATE "C" NOT NULL DEFAULT '',
  title        text COLLATE "C" NOT NULL DEFAULT '',
  referrer     text COLLATE "C" NOT NULL DEFAULT '',
  data         text NOT NULL DEFAULT '{}',
  ip           text COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX events_visit ON events (visit_id, corrected_at);
CREATE UNIQUE INDEX events_rowid ON events (rowid);

CREATE TABLE tokens (
  rowid      bigint GENERATED ALWAYS AS IDENTITY,
  token_id   text COLLATE "C" PRIMARY KEY,
  hash       text COLLATE "C" NOT NULL UNIQUE,
  scopes     text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  revoked_at bigint
);

CREATE TABLE settings (
  name  text COLLATE "C" PRIMARY KEY,
  value text NOT NULL
);
