-- 0012: what the directory says about a managed account (SPEC §6.1: disabled, deleted or moved
-- outside alm is detected and shown), refreshed by every domain sync.

ALTER TABLE managed_accounts ADD COLUMN directory_state TEXT NOT NULL DEFAULT 'present';
ALTER TABLE managed_accounts ADD COLUMN directory_checked_at BIGINT;
-- Whether the account's secret is in its vault, as the last vault sync saw it (SPEC §7.6).
ALTER TABLE managed_accounts ADD COLUMN secret_state TEXT NOT NULL DEFAULT 'present';
