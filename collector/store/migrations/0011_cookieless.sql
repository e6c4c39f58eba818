-- Cookieless visits (docs/identity.md#cookieless-visits): counted before consent, with a
-- visitor derived for one day from site, address and user agent.
ALTER TABLE visits ADD COLUMN cookieless INTEGER NOT NULL DEFAULT 0;
