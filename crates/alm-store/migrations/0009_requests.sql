-- 0009: requests and approvals (SPEC §2.5, §2.6). `name_key` is the full account name,
-- lowercased; the partial unique index lets one live request hold a name per domain (drafts,
-- rejected and withdrawn requests hold none). Approvals are one row per (request, step,
-- approver), so the same approver twice counts once.

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    template_id TEXT NOT NULL REFERENCES templates (id),
    template_version INTEGER NOT NULL,
    requester_id TEXT NOT NULL REFERENCES users (id),
    domain_id TEXT NOT NULL,
    account_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    state TEXT NOT NULL,
    current_step INTEGER,
    details TEXT NOT NULL,
    rejection_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    submitted_at BIGINT,
    decided_at BIGINT
);
CREATE INDEX requests_requester ON requests (requester_id, created_at);
CREATE INDEX requests_state ON requests (state, current_step);
CREATE UNIQUE INDEX requests_live_name ON requests (domain_id, name_key)
    WHERE state NOT IN ('draft', 'rejected', 'withdrawn');

CREATE TABLE request_approvals (
    request_id TEXT NOT NULL REFERENCES requests (id),
    step INTEGER NOT NULL,
    approver_id TEXT NOT NULL REFERENCES users (id),
    decision TEXT NOT NULL,
    reason TEXT,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, step, approver_id)
);
