-- 0005: a daily sync time per domain (HH:MM, UTC) and the next instant it is due, indexed so
-- the hourly check finds due domains without reading them all.

ALTER TABLE domains ADD COLUMN sync_time TEXT;
ALTER TABLE domains ADD COLUMN next_sync_at BIGINT;

CREATE INDEX domains_next_sync_at ON domains (next_sync_at);
