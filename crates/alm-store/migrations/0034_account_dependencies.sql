-- 0034: where a directory object is used (SPEC §2.7 "dependencies"): the services that run as
-- it, host by host, learnt from `alm discover --import` host scans (source 'host-scan') or a
-- vault's dependency records ('vault'). Keyed by domain and objectGUID, not by managed
-- account, so what a scan found before the account was imported is there once it is managed,
-- and a rename does not lose it. host_key/service_key are the lowercase names (both are
-- case-insensitive on Windows); the names are kept as last seen. No binary path: command
-- lines can hold passwords. `dependency_scans` says when a complete host scan last looked
-- for the object, so "no known dependencies" can say since when.
CREATE TABLE account_dependencies (
    domain_id TEXT NOT NULL REFERENCES domains (id),
    guid TEXT NOT NULL,
    source TEXT NOT NULL,
    host_key TEXT NOT NULL,
    service_key TEXT NOT NULL,
    host TEXT NOT NULL,
    service_name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL,
    run_id TEXT,
    PRIMARY KEY (domain_id, guid, source, host_key, service_key)
);

CREATE TABLE dependency_scans (
    domain_id TEXT NOT NULL REFERENCES domains (id),
    guid TEXT NOT NULL,
    scanned_at BIGINT NOT NULL,
    PRIMARY KEY (domain_id, guid)
);
