-- 0006: vaults (SPEC §7.6). Settings that are not secret are JSON; the credential (a token, a
-- secret access key) is sealed with the master key. The built-in vault keeps its entries
-- here too, each sealed with the vault, folder and name as associated data.

CREATE TABLE vaults (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    settings TEXT NOT NULL,
    credential_sealed TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE builtin_vault_entries (
    vault_id TEXT NOT NULL REFERENCES vaults (id),
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    payload_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (vault_id, folder, name)
);
