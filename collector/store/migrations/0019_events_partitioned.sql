-- PostgreSQL partitions its events table by month in its 0019 (the
-- migrations of both engines share their numbers). SQLite's single file
-- and D1 keep one events table: this statement does nothing.
SELECT 1;
