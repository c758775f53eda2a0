-- 0007: engines, pools and the job queue (SPEC §5).
-- Activation tokens and engine credentials are stored as SHA-256 hashes only. A job's payload
-- never holds a secret: the connection a job needs is opened from the sealed settings when an
-- engine leases it. The dedupe index keeps one live job per key (one sync per domain at once).

CREATE TABLE engine_pools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    is_default INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE engine_activation_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    engine_id TEXT
);

CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    version TEXT NOT NULL,
    pool_id TEXT REFERENCES engine_pools (id),
    active INTEGER NOT NULL,
    in_process INTEGER NOT NULL,
    credential_hash TEXT NOT NULL UNIQUE,
    registered_at BIGINT NOT NULL,
    last_seen_at BIGINT,
    last_address TEXT
);
CREATE INDEX engines_pool ON engines (pool_id, active);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    pool_id TEXT NOT NULL,
    engine_id TEXT,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedupe_key TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    not_before BIGINT NOT NULL,
    lease_id TEXT,
    leased_by TEXT,
    leased_at BIGINT,
    lease_expires_at BIGINT,
    result TEXT,
    error TEXT,
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_queue ON jobs (status, pool_id, not_before);
CREATE INDEX jobs_lease ON jobs (status, lease_expires_at);
CREATE INDEX jobs_subject ON jobs (subject_type, subject_id, created_at);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE status IN ('queued', 'leased');

CREATE TABLE engine_logs (
    id TEXT PRIMARY KEY,
    engine_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX engine_logs_engine ON engine_logs (engine_id, at);

CREATE TABLE calibrations (
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    engine_id TEXT NOT NULL,
    ok INTEGER NOT NULL,
    problem TEXT,
    message TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    PRIMARY KEY (target_type, target_id, engine_id)
);

ALTER TABLE domains ADD COLUMN pool_id TEXT REFERENCES engine_pools (id);
ALTER TABLE vaults ADD COLUMN pool_id TEXT REFERENCES engine_pools (id);
