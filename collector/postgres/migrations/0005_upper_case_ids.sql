-- PostgreSQL's copy of 0005_upper_case_ids.sql: nothing to do. That
-- migration upper-cases ids that SQLite databases stored before ingest
-- upper-cased them; a PostgreSQL database is only ever written by a
-- collector that does. The file keeps the numbering alike.
SELECT 1;
