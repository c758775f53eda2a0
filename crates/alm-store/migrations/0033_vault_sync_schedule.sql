-- 0033: a daily vault sync per vault (SPEC §7.6, §5: it finds accounts whose secret is missing
-- and calibrates the pool's engines): the time of day (HH:MM, UTC; NULL: not scheduled) and
-- the next instant it is due, indexed so the hourly check finds due vaults without reading
-- them all. Every vault that exists is scheduled at the default time; its first due instant is
-- set by the first hourly check (NULL until then).
ALTER TABLE vaults ADD COLUMN sync_time TEXT;
ALTER TABLE vaults ADD COLUMN next_sync_at BIGINT;
UPDATE vaults SET sync_time = '03:00';
CREATE INDEX vaults_next_sync_at ON vaults (next_sync_at);
