-- 0004: user sync (SPEC §6.3). Per domain, the directory groups whose members (through child
-- groups too) become alm users, and the share of synced users one sync may disable before it
-- stops and alerts instead. Sync runs count the users they created and disabled.

CREATE TABLE domain_user_sync (
    domain_id TEXT PRIMARY KEY REFERENCES domains (id),
    group_guids TEXT NOT NULL,
    max_disable_percent BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE domain_sync_runs ADD COLUMN users_created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE domain_sync_runs ADD COLUMN users_disabled BIGINT NOT NULL DEFAULT 0;

CREATE INDEX users_directory_link ON users (directory_domain, directory_guid);
