-- 0014: the managed-account list pages in name order (SPEC §2.7 views) without sorting every
-- account; an owner's own accounts come through account_owners_owner.
CREATE INDEX managed_accounts_name ON managed_accounts (name_key, id);
