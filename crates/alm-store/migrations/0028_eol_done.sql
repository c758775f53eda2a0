-- 0028: the EOL instant whose EOL action has run (SPEC §4.2: at EOL, once). The sweep passes
-- over an account whose `eol_done_at` is its `eol_at`, so an account its owner enabled again
-- after its EOL disabled it (§4.1 allows that) stays enabled; a renewal or a migration (a new
-- `eol_at`) arms it again.
ALTER TABLE managed_accounts ADD COLUMN eol_done_at BIGINT;
