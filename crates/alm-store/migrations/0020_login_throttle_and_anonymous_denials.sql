-- 0020: counters that must be shared by replicas and must not grow with an attacker's traffic.
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
