-- Each visit's event count, kept by ingest in the commit that stores the
-- events. The visits list used to count every listed visit's events at
-- each read: a hundred long visits meant walking hundreds of thousands of
-- index entries per page of the list, the CPU the writer shares.
ALTER TABLE visits ADD COLUMN event_count INTEGER NOT NULL DEFAULT 0;
UPDATE visits SET event_count = (SELECT count(*) FROM events e WHERE e.visit_id = visits.visit_id);
