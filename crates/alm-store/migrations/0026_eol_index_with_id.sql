-- 0026: the end-of-life index carries the id, the list's tie-breaker, so a page deep in an
-- end-of-life window (sorted by eol_at, id) skips its OFFSET inside the index instead of
-- reading every row before it (bench/lifecycle.sh at 1,000,000 accounts on SQLite: p99 59.6 ms → 6.2 ms).
DROP INDEX managed_accounts_eol;
CREATE INDEX managed_accounts_eol ON managed_accounts (eol_at, id);
