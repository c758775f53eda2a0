-- 0030: when a domain's last full sync confirmed every object alm holds of it. An object's
-- `synced_at` is now the later of this and the time its row was last written, so a full sync
-- that finds an object unchanged writes one row here instead of rewriting the object's row
-- (bench/RESULTS.md "Directory sync").
CREATE TABLE directory_seen (
    domain_id TEXT PRIMARY KEY REFERENCES domains (id),
    seen_at BIGINT NOT NULL
);
-- Nothing to carry over: every stored `synced_at` is already the time it was last seen.
