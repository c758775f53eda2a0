-- 0023: one row that /readyz rewrites, so readiness turns red when storage stops taking writes
-- (a full disk, a read-only file system, a file made immutable) instead of staying green while
-- every change fails.
CREATE TABLE readiness_probe (
    id INTEGER PRIMARY KEY,
    checked_at BIGINT NOT NULL
);
INSERT INTO readiness_probe (id, checked_at) VALUES (1, 0);
