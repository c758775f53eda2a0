-- 0003: what alm knows of each domain's directory (synced users, groups, OUs), where the last
-- sync stopped (the highest update sequence number seen), and every sync run with its counts.

CREATE TABLE directory_objects (
    domain_id TEXT NOT NULL REFERENCES domains (id),
    guid TEXT NOT NULL,
    kind TEXT NOT NULL,
    dn TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    usn_changed BIGINT NOT NULL,
    details TEXT NOT NULL,
    synced_at BIGINT NOT NULL,
    PRIMARY KEY (domain_id, guid)
);

CREATE INDEX directory_objects_kind_name ON directory_objects (domain_id, kind, name);

CREATE TABLE domain_sync_state (
    domain_id TEXT PRIMARY KEY REFERENCES domains (id),
    highest_usn BIGINT NOT NULL,
    last_full_sync_at BIGINT NOT NULL
);

CREATE TABLE domain_sync_runs (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains (id),
    mode TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    added BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    removed BIGINT NOT NULL,
    error TEXT
);

CREATE INDEX domain_sync_runs_domain ON domain_sync_runs (domain_id, started_at);
