//! Notifications (SPEC §7.1–§7.3) through a transactional outbox: a change that people must
//! hear about calls [`emit`] inside its own transaction, which renders the event's texts and
//! writes one outbox row per email and one inbox entry per person. Nothing is sent from a
//! request: the mailer ([`deliver_due`]) sends what is due, records each attempt, and retries
//! with back-off, so an SMTP outage delays mail but never blocks or loses it.

use super::audit::{record, Subject};
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, FieldError, UserId, ValidationErrors};
use alm_notify::events::{self, EventKind};
use alm_notify::render::{render, unknown_placeholders};
use alm_notify::smtp::{SendError, SmtpSender};
use alm_store::notifications::{self as store, EmailTemplate, InboxEntry, OutboxMessage};
use alm_store::{outbox_queue, users, Conn, Db};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};

/// Attempts before a message is given up (and an alert recorded).
pub const MAX_ATTEMPTS: i64 = 12;

/// The texts in force for an event: an administrator's, or the defaults.
pub(crate) async fn texts(conn: &mut Conn, event: EventKind) -> ServiceResult<EmailTemplate> {
    Ok(store::template(conn, event.key)
        .await?
        .unwrap_or(EmailTemplate {
            event: event.key.into(),
            subject: event.subject.into(),
            body: event.body.into(),
            enabled: event.enabled,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }))
}

/// Queues `event` for `recipients` (users; disabled ones and duplicates are skipped): an email
/// each when the event's email is enabled, and an inbox entry each. An opt-in event (SPEC
/// §7.1 "none") that is not enabled reaches nobody.
pub(crate) async fn emit(
    conn: &mut Conn,
    now: OffsetDateTime,
    event: EventKind,
    params: &Value,
    recipients: impl IntoIterator<Item = UserId>,
    subject: Option<(&str, String)>,
) -> ServiceResult<()> {
    // Webhooks and SIEM hear about every event, whoever its people are.
    super::integration_outbox::enqueue_event(conn, now, event, params).await?;
    let t = texts(conn, event).await?;
    if event.audience.opt_in() && !t.enabled {
        // SPEC §7.1 "none": until an administrator enables it, nobody is told, not even in
        // the inbox.
        return Ok(());
    }
    let title = render(&t.subject, params);
    let body = render(&t.body, params);
    let unique: BTreeSet<UserId> = recipients.into_iter().collect();
    for user in unique {
        let Some(u) = users::get(conn, user).await? else {
            continue;
        };
        if !u.enabled {
            continue;
        }
        if t.enabled {
            if let Some(email) = u.emails.first() {
                store::enqueue(
                    conn,
                    &OutboxMessage {
                        id: alm_core::ids::uuid_v7_at(now).to_string(),
                        channel: "email".into(),
                        event: event.key.into(),
                        recipient: email.clone(),
                        subject: title.clone(),
                        body: body.clone(),
                        status: "pending".into(),
                        attempts: 0,
                        next_attempt_at: now,
                        last_error: None,
                        created_at: now,
                        sent_at: None,
                    },
                )
                .await?;
            }
        }
        store::add_inbox(
            conn,
            &InboxEntry {
                id: alm_core::ids::uuid_v7_at(now).to_string(),
                user_id: user,
                category: event.category.into(),
                event: event.key.into(),
                title: title.clone(),
                body: body.clone(),
                subject_type: subject.as_ref().map(|(t, _)| t.to_string()),
                subject_id: subject.as_ref().map(|(_, id)| id.clone()),
                created_at: now,
                read_at: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// The parameters of a request event.
pub(crate) async fn request_params(
    conn: &mut Conn,
    base_url: &str,
    r: &alm_store::requests::RequestRecord,
    reason: Option<&str>,
) -> ServiceResult<Value> {
    let template = alm_store::templates::get(conn, r.template_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let requester = users::get(conn, r.requester_id)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    Ok(json!({"request": {
        "id": r.id.to_string(),
        "account_name": r.account_name,
        "template": template,
        "state": r.state,
        "step": r.current_step.map(|s| s.to_string()).unwrap_or_default(),
        "reason": reason.unwrap_or_default(),
        "requester": requester,
        "url": format!("{base_url}/api/v1/requests/{}", r.id),
    }}))
}

/// Users holding the System Administrator role (directly or through an enabled group).
pub(crate) async fn system_administrators(conn: &mut Conn) -> ServiceResult<Vec<UserId>> {
    Ok(users::with_builtin_role(
        conn,
        alm_core::roles::BuiltinRole::SystemAdministrator.key(),
    )
    .await?)
}

/// Tells the system administrators about an opt-in event (SPEC §7.1 "none (can be enabled for
/// system administrators)"): nobody unless an administrator enabled it.
pub(crate) async fn tell_administrators_if_enabled(
    conn: &mut Conn,
    now: OffsetDateTime,
    event: EventKind,
    params: &Value,
    subject: (&str, String),
) -> ServiceResult<()> {
    debug_assert!(event.audience.opt_in(), "{} is not opt-in", event.key);
    let t = texts(conn, event).await?;
    let admins = if t.enabled {
        system_administrators(conn).await?
    } else {
        Vec::new()
    };
    emit(conn, now, event, params, admins, Some(subject)).await
}

/// The welcome email (SPEC §2.1, §6.3) to a user alm just created, with the sign-in link.
pub(crate) async fn welcome(
    conn: &mut Conn,
    now: OffsetDateTime,
    base_url: &str,
    user: UserId,
    display_name: &str,
    source: users::UserSource,
) -> ServiceResult<()> {
    let source = match source {
        users::UserSource::Synced => "from your directory account",
        users::UserSource::Local => "by an administrator",
        // An API client has no address to welcome and signs in by client credentials.
        users::UserSource::ApiClient => return Ok(()),
    };
    emit(
        conn,
        now,
        events::USER_WELCOME,
        &json!({"user": {"display_name": display_name, "source": source,
                         "sign_in_url": format!("{base_url}/sign-in")}}),
        [user],
        Some(("user", user.to_string())),
    )
    .await
}

/// The back-off after `attempts` failed attempts: 10 s, 20 s, 40 s … at most an hour.
pub fn backoff(attempts: i64) -> Duration {
    Duration::seconds((10 * 2_i64.pow(attempts.clamp(0, 12) as u32)).min(3600))
}

/// Sends what is due now; returns how many were sent.
pub async fn deliver_due(db: &Db, clock: &dyn Clock, sender: &SmtpSender) -> ServiceResult<usize> {
    let now = clock.now();
    let due = {
        let mut tx = db.begin_write().await?;
        let due = store::claim_due(&mut tx, now, now + outbox_queue::LEASE, 20).await?;
        tx.commit().await?;
        due
    };
    let claimed = std::time::Instant::now();
    let mut sent = 0;
    for m in due {
        if claimed.elapsed() > outbox_queue::START_WITHIN {
            // Too late in the lease to start a send: give the row back for the next round.
            let mut tx = db.begin_write().await?;
            outbox_queue::release(&mut tx, outbox_queue::EMAIL, &m.id, clock.now()).await?;
            tx.commit().await?;
            continue;
        }
        let outcome = sender.send(&m.id, &m.recipient, &m.subject, &m.body).await;
        let mut again = UntilRecorded::new(claimed);
        while let Err(e) = record_outcome(db, clock, &m, &outcome).await {
            again.wait(e, &m.id).await?;
        }
        if outcome.is_ok() {
            sent += 1;
        }
    }
    Ok(sent)
}

/// The retries of recording what a delivery of an outbox row did: the transaction is run
/// again while it fails, as long as the claim (taken at `claimed`) holds. The attempt must be
/// recorded even when the database is away for a moment (PostgreSQL restarting, a failover):
/// giving up left a message the receiver had accepted claimed, and a replica sent it a second
/// time when the claim ran out five minutes later (with the rest of the batch five minutes
/// late). Found by the crash suite (crates/alm/tests/crash) for mail, and the same holds for
/// webhook calls. Past the claim's lease another replica may send it anyway.
pub(crate) struct UntilRecorded {
    claimed: std::time::Instant,
    pause: std::time::Duration,
}

impl UntilRecorded {
    pub(crate) fn new(claimed: std::time::Instant) -> Self {
        Self {
            claimed,
            pause: std::time::Duration::from_millis(100),
        }
    }

    /// After a failed try for row `row`: waits before the next (100 ms doubling to 5 s), or
    /// gives `e` back when the claim would run out first.
    pub(crate) async fn wait(&mut self, e: ServiceError, row: &str) -> ServiceResult<()> {
        if self.claimed.elapsed() + self.pause >= outbox_queue::LEASE.unsigned_abs() {
            return Err(e);
        }
        tracing::warn!(error = %e, message = %row, "the outcome of a delivery is not recorded yet; trying again");
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(std::time::Duration::from_secs(5));
        Ok(())
    }
}

/// Records one delivery attempt of `m`: sent, due again after a back-off, or given up (with an
/// alert).
async fn record_outcome(
    db: &Db,
    clock: &dyn Clock,
    m: &OutboxMessage,
    outcome: &Result<(), SendError>,
) -> ServiceResult<()> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    match outcome {
        Ok(()) => {
            store::record_attempt(&mut tx, &m.id, now, None, None).await?;
        }
        Err(e) => {
            let attempts = m.attempts + 1;
            let give_up = matches!(e, SendError::Permanent(_)) || attempts >= MAX_ATTEMPTS;
            let retry = (!give_up).then(|| now + backoff(m.attempts));
            let text: String = e.to_string().chars().take(1000).collect();
            store::record_attempt(&mut tx, &m.id, now, Some(&text), retry).await?;
            if give_up {
                record(
                    &mut tx,
                    clock,
                    &Actor::system(),
                    "notification.failed",
                    Subject::new("notification", &m.id),
                    json!({"alert": true, "event": m.event, "attempts": attempts, "error": text}),
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Every event's texts, as in force.
pub async fn templates(
    db: &Db,
    can: &Can<perm::NotificationRead>,
) -> ServiceResult<Vec<(EventKind, EmailTemplate)>> {
    let _ = can;
    let mut conn = db.read().await?;
    let mut out = Vec::new();
    for e in events::ALL {
        out.push((*e, texts(&mut conn, *e).await?));
    }
    Ok(out)
}

fn event(key: &str) -> ServiceResult<EventKind> {
    events::by_key(key).ok_or(ServiceError::NotFound {
        what: "email template",
    })
}

fn check_texts(e: EventKind, subject: &str, body: &str) -> ServiceResult<()> {
    let mut errors = ValidationErrors::new();
    for (field, text, max) in [("subject", subject, 500), ("body", body, 20_000)] {
        if text.trim().is_empty() {
            errors.push(FieldError::new(field, "required", "must not be empty"));
        } else if text.chars().count() > max {
            errors.push(FieldError::new(
                field,
                "max-length",
                format!("at most {max} characters"),
            ));
        } else if field == "subject" && text.contains(['\r', '\n']) {
            errors.push(FieldError::new(field, "format", "one line"));
        }
        let unknown = unknown_placeholders(text, e.parameters);
        if !unknown.is_empty() {
            errors.push(FieldError::new(
                field,
                "placeholders",
                format!(
                    "unknown parameter(s) {}; this event has {}",
                    unknown.join(", "),
                    e.parameters.join(", ")
                ),
            ));
        }
    }
    Ok(errors.into_result()?)
}

/// A change of an event's texts; `None` keeps what is in force.
pub struct TemplateChange {
    pub subject: Option<String>,
    pub body: Option<String>,
    pub enabled: Option<bool>,
}

/// Changes an event's texts and whether its email is sent.
pub async fn update_template(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::NotificationUpdate>,
    actor: &Actor,
    key: &str,
    change: TemplateChange,
) -> ServiceResult<(EventKind, EmailTemplate)> {
    let _ = can;
    let e = event(key)?;
    let mut tx = db.begin_write().await?;
    let mut t = texts(&mut tx, e).await?;
    if let Some(s) = change.subject {
        t.subject = s;
    }
    if let Some(b) = change.body {
        t.body = b;
    }
    if let Some(on) = change.enabled {
        t.enabled = on;
    }
    check_texts(e, &t.subject, &t.body)?;
    t.updated_at = clock.now();
    store::put_template(&mut tx, &t).await?;
    record(
        &mut tx,
        clock,
        actor,
        "email-template.updated",
        Subject::new("email-template", key),
        json!({"enabled": t.enabled}),
    )
    .await?;
    tx.commit().await?;
    Ok((e, t))
}

/// Sample values for a preview: each parameter shows its own name.
fn sample(e: EventKind) -> Value {
    let mut root = json!({});
    for p in e.parameters {
        let mut at = &mut root;
        let parts: Vec<&str> = p.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            at = at
                .as_object_mut()
                .expect("object")
                .entry(part.to_string())
                .or_insert_with(|| json!({}));
        }
        at[parts[parts.len() - 1]] = json!(format!("<{p}>"));
    }
    root
}

/// Renders texts (given, or the ones in force) with sample values.
pub async fn preview(
    db: &Db,
    can: &Can<perm::NotificationRead>,
    key: &str,
    subject: Option<String>,
    body: Option<String>,
) -> ServiceResult<(String, String)> {
    let _ = can;
    let e = event(key)?;
    let mut conn = db.read().await?;
    let t = texts(&mut conn, e).await?;
    let (subject, body) = (subject.unwrap_or(t.subject), body.unwrap_or(t.body));
    check_texts(e, &subject, &body)?;
    let params = sample(e);
    Ok((render(&subject, &params), render(&body, &params)))
}

/// One page of the outbox (of one status, with `query` in the recipient or subject), and how
/// many messages match.
pub async fn outbox(
    db: &Db,
    can: &Can<perm::NotificationRead>,
    status: Option<&str>,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<OutboxMessage>, u64)> {
    let _ = can;
    let mut conn = db.read().await?;
    Ok(store::messages(&mut conn, status, query, page).await?)
}

/// One page of the user's inbox, how many entries match, and the unread entries per category.
pub async fn inbox(
    db: &Db,
    user: UserId,
    unread_only: bool,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<((Vec<InboxEntry>, u64), Vec<(String, i64)>)> {
    let mut conn = db.read().await?;
    Ok((
        store::inbox(&mut conn, user, unread_only, query, page).await?,
        store::unread_counts(&mut conn, user).await?,
    ))
}

/// How many of the user's inbox entries are unread (the count beside "Inbox" on every page).
pub async fn unread_total(db: &Db, user: UserId) -> ServiceResult<i64> {
    let mut conn = db.read().await?;
    Ok(store::unread_counts(&mut conn, user)
        .await?
        .iter()
        .map(|(_, n)| n)
        .sum())
}

pub async fn mark_read(
    db: &Db,
    clock: &dyn Clock,
    user: UserId,
    id: Option<&str>,
) -> ServiceResult<u64> {
    let mut tx = db.begin_write().await?;
    let n = store::mark_read(&mut tx, user, id, clock.now()).await?;
    tx.commit().await?;
    if id.is_some() && n == 0 {
        return Err(ServiceError::NotFound {
            what: "unread inbox entry",
        });
    }
    Ok(n)
}

/// A lifecycle reminder (SPEC §4.4) to the account's owners (people of owner groups too),
/// and the system administrators when the template says so.
pub(crate) async fn remind(
    conn: &mut Conn,
    base_url: &str,
    a: &alm_store::accounts::AccountRecord,
    d: &alm_core::templates::TemplateDefinition,
    kind: alm_core::lifecycle::ReminderKind,
    now: OffsetDateTime,
) -> ServiceResult<()> {
    use alm_core::lifecycle::ReminderKind as K;
    let event = match kind {
        K::RenewalOpen => alm_notify::events::ACCOUNT_REQUIRES_RENEWAL,
        K::Reminder => alm_notify::events::ACCOUNT_REMINDER,
        K::Urgent => alm_notify::events::ACCOUNT_URGENT_REMINDER,
    };
    let mut people = Vec::new();
    for o in alm_store::accounts::owners(conn, a.id).await? {
        match o {
            alm_store::accounts::Owner::User(u) => people.push(u),
            alm_store::accounts::Owner::Group(g) => {
                people.extend(alm_store::groups::enabled_member_ids(conn, g).await?)
            }
        }
    }
    if d.lifecycle.include_admins_in_reminders {
        people.extend(system_administrators(conn).await?);
    }
    let rfc = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let renewal = alm_core::lifecycle::renewal_at(a.eol_at, d.lifecycle.renewal_window_days);
    emit(
        conn,
        now,
        event,
        &serde_json::json!({"account": {"name": a.name, "eol_at": rfc(a.eol_at), "eol_action": a.eol_action,
                                        "renewal_at": rfc(renewal),
                                        "url": format!("{base_url}/api/v1/accounts/{}", a.id)}}),
        people,
        Some(("account", a.id.to_string())),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), Duration::seconds(10));
        assert_eq!(backoff(1), Duration::seconds(20));
        assert_eq!(backoff(3), Duration::seconds(80));
        assert_eq!(backoff(12), Duration::hours(1));
    }

    #[test]
    fn previews_name_each_parameter() {
        let params = sample(events::REQUEST_REJECTED);
        assert_eq!(
            render("{{request.account_name}}/{{request.reason}}", &params),
            "<request.account_name>/<request.reason>"
        );
        assert!(check_texts(events::REQUEST_REJECTED, "Hi {{nope}}", "x").is_err());
        assert!(check_texts(events::REQUEST_REJECTED, "two\nlines", "x").is_err());
        assert!(check_texts(events::REQUEST_REJECTED, "{{request.url}}", "x").is_ok());
    }
}
