-- 0019: what `alm discover --import` sent (SPEC §11, last bullet; §10 "unmanaged accounts
-- found"). `discovery_runs` is one row per received scan: who sent it, when, the tool's own
-- scan time and version, its counts and whether the host scan was complete, so the audit trail
-- can say which scan claimed what. `discovered_accounts` holds the unmanaged accounts found,
-- one row per domain and objectGUID: a later scan updates the row (last_seen_at, findings,
-- hosts, reasons) instead of adding one. reasons, findings and hosts are JSON arrays; the
-- highest severity is a column (0 critical … 4 none) so the list orders by it through an index.
-- Accounts that alm manages are filtered out when read, so an import needs no clean-up here.

CREATE TABLE discovery_runs (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains (id),
    sent_by TEXT,
    received_at BIGINT NOT NULL,
    scanned_at BIGINT NOT NULL,
    tool_version TEXT NOT NULL,
    fqdn TEXT NOT NULL,
    base_dn TEXT NOT NULL,
    host_scan_complete BIGINT NOT NULL,
    received BIGINT NOT NULL,
    new_accounts BIGINT NOT NULL,
    updated_accounts BIGINT NOT NULL,
    skipped_managed BIGINT NOT NULL
);
CREATE INDEX discovery_runs_domain ON discovery_runs (domain_id, received_at);

CREATE TABLE discovered_accounts (
    domain_id TEXT NOT NULL REFERENCES domains (id),
    guid TEXT NOT NULL,
    sam_account_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    dn TEXT NOT NULL,
    sid TEXT,
    kind TEXT NOT NULL,
    reasons TEXT NOT NULL,
    findings TEXT NOT NULL,
    hosts TEXT NOT NULL,
    top_severity BIGINT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    first_run_id TEXT NOT NULL,
    last_run_id TEXT NOT NULL,
    sent_by TEXT,
    PRIMARY KEY (domain_id, guid)
);
CREATE INDEX discovered_accounts_severity ON discovered_accounts (top_severity, name_key);
CREATE INDEX discovered_accounts_name ON discovered_accounts (name_key);
