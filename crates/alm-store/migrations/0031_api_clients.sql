-- 0031: API clients (SPEC §7.7, §9): an external system (a ticketing tool) that obtains
-- short-lived bearer tokens by OAuth 2.0 client credentials. Each acts as a user row of its own
-- (source 'api-client': no email, no password, one role), so approval steps, permissions and
-- audit records treat it like any other actor. The secret is stored hashed, as API tokens are.
CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE REFERENCES users (id),
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles (id),
    created_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- Requests an API client submitted on behalf of a requester: the client may read them (and
-- withdraw them) as its own.
CREATE TABLE request_submitters (
    request_id TEXT PRIMARY KEY REFERENCES requests (id),
    user_id TEXT NOT NULL REFERENCES users (id)
);
CREATE INDEX request_submitters_user ON request_submitters (user_id);
