-- 0002: directory domains alm connects to (SPEC §6.1). The bind password is sealed with the
-- master key (crypto.rs); the CA certificate is public and stored as PEM text.

CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    bind_identity TEXT NOT NULL,
    bind_password_sealed TEXT NOT NULL,
    ca_pem TEXT,
    base_dn TEXT NOT NULL,
    password_policy TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
