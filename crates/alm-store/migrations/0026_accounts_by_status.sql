-- 0026: counting accounts by status (the dashboard) reads this index, not the whole table.
CREATE INDEX managed_accounts_status ON managed_accounts (status);
