-- 0010: managed accounts (SPEC §2.7) and provisioning failures on requests (SPEC §3).
-- `eol_at` is indexed for the lifecycle sweep; owners are users or groups.

ALTER TABLE requests ADD COLUMN failure_reason TEXT;

CREATE TABLE managed_accounts (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    dn TEXT NOT NULL,
    guid TEXT NOT NULL,
    account_type TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    template_id TEXT NOT NULL REFERENCES templates (id),
    template_version INTEGER NOT NULL,
    request_id TEXT REFERENCES requests (id),
    interval TEXT NOT NULL,
    eol_action TEXT NOT NULL,
    lifecycle_start BIGINT NOT NULL,
    eol_at BIGINT NOT NULL,
    vault_id TEXT NOT NULL,
    secret_ref TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX managed_accounts_live_name ON managed_accounts (domain_id, name_key)
    WHERE status <> 'deleted';
CREATE UNIQUE INDEX managed_accounts_request ON managed_accounts (request_id);
CREATE INDEX managed_accounts_eol ON managed_accounts (eol_at);

CREATE TABLE account_owners (
    account_id TEXT NOT NULL REFERENCES managed_accounts (id),
    owner_type TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    -- The order owners were added in (the requester first); instants can tie.
    position INTEGER NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, owner_type, owner_id)
);
CREATE INDEX account_owners_owner ON account_owners (owner_type, owner_id);
