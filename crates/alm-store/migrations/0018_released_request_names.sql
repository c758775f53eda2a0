-- 0018: a request stops holding its account's name once the account created from it is
-- deleted (SPEC §2.5: "until the first request is rejected or the account created from it is
-- deleted"), so *clone as new request* of a deleted account can take the name again.
ALTER TABLE requests ADD COLUMN name_released_at BIGINT;
DROP INDEX requests_live_name;
CREATE UNIQUE INDEX requests_live_name ON requests (domain_id, name_key)
    WHERE state NOT IN ('draft', 'rejected', 'withdrawn') AND kind = 'new' AND name_released_at IS NULL;
