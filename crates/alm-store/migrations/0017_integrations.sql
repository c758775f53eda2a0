-- 0017: webhooks and SIEM integrations (SPEC §7.4, §7.5). A webhook keeps its whole definition
-- as JSON sealed by the master key (it holds the signing secret and the authorization's
-- password or client secret); the event key and `enabled` are plain columns so the outbox can
-- find the subscribers of an event without opening anything. `webhook_deliveries` is the
-- history, one row per attempt. The integration outbox is a queue of its own (not rows of the
-- email `outbox`): its rows name a target (webhook or SIEM integration) and carry a JSON
-- payload instead of an address, subject and body, and the mailer keeps claiming only mail.

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    definition_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_event ON webhooks (event, enabled);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status_code BIGINT,
    duration_ms BIGINT NOT NULL,
    response_excerpt TEXT NOT NULL,
    error TEXT,
    test INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, at, id);

CREATE TABLE siem_integrations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    server TEXT NOT NULL,
    port BIGINT NOT NULL,
    protocol TEXT NOT NULL,
    format TEXT NOT NULL,
    ca_pem TEXT,
    enabled INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX siem_integrations_name ON siem_integrations (name);

CREATE TABLE integration_outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    target_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX integration_outbox_due ON integration_outbox (status, next_attempt_at);
CREATE INDEX integration_outbox_target ON integration_outbox (target_id, status);
