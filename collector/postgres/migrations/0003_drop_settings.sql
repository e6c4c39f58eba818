-- PostgreSQL's copy of 0003_drop_settings.sql.
DROP TABLE IF EXISTS settings;
