-- 0027: a domain may list more domain controllers, tried in order when the first cannot be
-- reached: a JSON array of ldaps:// URLs (empty: only `url`).
ALTER TABLE domains ADD COLUMN failover_urls TEXT NOT NULL DEFAULT '[]';
