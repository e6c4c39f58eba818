-- PostgreSQL's copy of 0012_visit_event_count.sql.
ALTER TABLE visits ADD COLUMN event_count bigint NOT NULL DEFAULT 0;
