-- 0016: renewal requests (SPEC §4.2 "submit for approval to renew"): a request of kind
-- `renewal` for an existing account runs the template's approval steps again. It carries the
-- account's name but does not hold it (the account does), so the live-name index covers new
-- requests only; one live renewal per account.
ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'new';
ALTER TABLE requests ADD COLUMN account_id TEXT;
DROP INDEX requests_live_name;
CREATE UNIQUE INDEX requests_live_name ON requests (domain_id, name_key)
    WHERE state NOT IN ('draft', 'rejected', 'withdrawn') AND kind = 'new';
CREATE UNIQUE INDEX requests_live_renewal ON requests (account_id)
    WHERE kind = 'renewal' AND state = 'pending-approval';
