-- 0001 made a settings table that nothing uses: keys come from the data
-- directory (native) or Worker secrets (edge).
DROP TABLE IF EXISTS settings;
