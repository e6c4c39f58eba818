-- Cookieless visits (SPEC section 8): counted before consent, with a
-- visitor derived for one day from site, address and user agent.
ALTER TABLE visits ADD COLUMN cookieless INTEGER NOT NULL DEFAULT 0;
