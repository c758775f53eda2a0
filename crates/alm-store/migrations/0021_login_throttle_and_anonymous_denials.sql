-- 0021: counters that must be shared by replicas and must not grow with an attacker's traffic.
--
-- login_throttle: failed password logins per (email, client address) and per client address,
-- so every replica throttles the same way. `throttle_key` is `pair:<sha256 of the email>@<ip>`
-- or `source:<ip>` (no email in clear: people type passwords into the email field).
-- `blocked_until` is when the next attempt is allowed (microseconds; 0: not blocked). A row
-- is forgotten some time after its last failure (see auth/rate_limit.rs).
CREATE TABLE login_throttle (
    throttle_key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL
);
CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure_at);

-- anonymous_denials: refusals of unauthenticated callers (401) and throttled logins (429),
-- counted per client address and minute instead of one hash-chained audit record each, so a
-- flood costs one row per address and minute. A closed minute is written to the audit log as
-- one `auth.anonymous-denied` record with its counts, and its row deleted in the same
-- transaction (the audit chain itself is only ever appended to).
CREATE TABLE anonymous_denials (
    source TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    unauthenticated BIGINT NOT NULL,
    throttled_logins BIGINT NOT NULL,
    PRIMARY KEY (source, window_start)
);
CREATE INDEX anonymous_denials_window ON anonymous_denials (window_start);
