-- 0015: the lifecycle scheduler (SPEC §4). The EOL sweep finds due accounts through a partial
-- index (active accounts whose EOL action changes something); reminders through each account's
-- next due instant; a reminder is sent once per (account, kind, slot) — the primary key is
-- what makes that true across restarts and replicas. `status_before` is what a denied
-- renewal restores; `problem` a failure indicator (e.g. "disable failed: …").

ALTER TABLE managed_accounts ADD COLUMN status_before TEXT;
ALTER TABLE managed_accounts ADD COLUMN problem TEXT;

CREATE INDEX managed_accounts_eol_due ON managed_accounts (eol_at)
    WHERE status = 'active' AND eol_action <> 'review';

CREATE TABLE account_schedule (
    account_id TEXT PRIMARY KEY REFERENCES managed_accounts (id),
    renewal_at BIGINT NOT NULL,
    reminder_due_at BIGINT
);
CREATE INDEX account_schedule_reminder_due ON account_schedule (reminder_due_at);

CREATE TABLE account_reminders (
    account_id TEXT NOT NULL REFERENCES managed_accounts (id),
    kind TEXT NOT NULL,
    slot BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, slot)
);
