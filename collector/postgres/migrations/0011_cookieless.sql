-- PostgreSQL's copy of 0011_cookieless.sql.
ALTER TABLE visits ADD COLUMN cookieless integer NOT NULL DEFAULT 0;
