//! Logging in and out: local passwords (throttled), sessions for OIDC logins, and turning
//! a session cookie or API token back into a [`Principal`].

use super::audit::{record, record_refusal, Subject};
use super::{Actor, Principal, ServiceError, ServiceResult};
use crate::auth::rate_limit::{LoginThrottle, ThrottleKey};
use crate::auth::{password, secret_token};
use alm_core::{Clock, Email, SessionId, UserId};
use alm_store::anonymous_denials::DenialKind;
use alm_store::audit_log::Outcome;
use alm_store::sessions::{self, SessionRecord};
use alm_store::users::UserRecord;
use alm_store::{api_tokens, login_throttle, permissions, users, Db};
use serde_json::json;
use std::net::IpAddr;
use time::OffsetDateTime;

/// A new session: the cookie secret (shown once, to the browser) and its CSRF token.
pub struct NewSession {
    pub secret: String,
    pub csrf_token: String,
    pub expires_at: time::OffsetDateTime,
    pub user: UserRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the email address or the password is wrong, or the account is disabled")]
    Refused,
    #[error("too many failed logins; try again in {seconds} seconds")]
    Locked { seconds: i64 },
    #[error("password login is switched off; log in through your identity provider")]
    LocalLoginOff,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<alm_store::StoreError> for LoginError {
    fn from(e: alm_store::StoreError) -> Self {
        LoginError::Service(e.into())
    }
}

pub struct PasswordLogin<'a> {
    pub email: &'a str,
    pub password: &'a str,
    /// The client's address (see `auth/client_addr.rs`).
    pub source: IpAddr,
}

/// Logs in with a password, throttled per (email, address) and per address (see
/// `auth/rate_limit.rs`): a throttled key is refused without looking at the password; an
/// address that has not failed is never held back by failures elsewhere.
pub async fn password_login(
    db: &Db,
    clock: &dyn Clock,
    throttle: &LoginThrottle,
    local_login_enabled: bool,
    session_hours: u32,
    input: PasswordLogin<'_>,
) -> Result<NewSession, LoginError> {
    let now = clock.now();
    let anonymous = Actor {
        user_id: None,
        name: None,
        email: Some(input.email.trim().to_lowercase()),
        source_ip: Some(input.source.to_string()),
    };
    if !local_login_enabled {
        record_refusal(
            db,
            clock,
            &anonymous,
            "login.password",
            Subject {
                object_type: "session",
                object_id: None,
            },
            Outcome::Denied,
            json!({"reason": "local login switched off"}),
        )
        .await?;
        return Err(LoginError::LocalLoginOff);
    }
    let keys = throttle.keys(input.email, input.source);
    if let Some(wait) = throttled_for(db, throttle, &keys, now).await? {
        // Refused unread: counted with the address's anonymous refusals, not audited one by
        // one (a throttled attacker would otherwise write a record per request).
        super::anonymous_denials::count(
            db,
            clock,
            &input.source.to_string(),
            DenialKind::ThrottledLogin,
        )
        .await?;
        return Err(LoginError::Locked {
            seconds: wait.whole_seconds().max(1),
        });
    }
    let user = match Email::parse("email", input.email) {
        Ok(email) => {
            let mut conn = db.read().await?;
            users::find_by_email(&mut conn, &email).await?
        }
        Err(_) => None,
    };
    let hash = match &user {
        Some(u) => {
            let mut conn = db.read().await?;
            users::password_hash(&mut conn, u.id).await?
        }
        None => None,
    };
    let ok = password::verify(input.password.to_owned(), hash).await;
    let user = match user {
        Some(u) if ok && u.enabled => u,
        other => {
            count_failure(db, throttle, &keys, now).await?;
            let actor = Actor {
                user_id: other.as_ref().map(|u| u.id),
                ..anonymous
            };
            let reason = match &other {
                None => "unknown email or no password",
                Some(u) if !u.enabled => "user disabled",
                Some(_) => "wrong password",
            };
            record_refusal(
                db,
                clock,
                &actor,
                "login.password",
                Subject {
                    object_type: "session",
                    object_id: None,
                },
                Outcome::Denied,
                json!({"reason": reason}),
            )
            .await?;
            return Err(LoginError::Refused);
        }
    };
    // The pair proved itself; the address's count stays (it may be trying many emails).
    clear_pair(db, &keys[0]).await?;
    let actor = Actor {
        user_id: Some(user.id),
        name: Some(user.display_name.clone()),
        email: user.emails.first().cloned(),
        source_ip: Some(input.source.to_string()),
    };
    Ok(start_session(db, clock, &actor, user, "password", session_hours).await?)
}

/// How long the longest-waiting of `keys` must still wait, if any (also the token endpoint's,
/// `api_clients::token`).
pub(crate) async fn throttled_for(
    db: &Db,
    throttle: &LoginThrottle,
    keys: &[ThrottleKey],
    now: OffsetDateTime,
) -> ServiceResult<Option<time::Duration>> {
    let forget_before = now - throttle.forget_after();
    let mut conn = db.read().await?;
    let mut wait: Option<time::Duration> = None;
    for k in keys {
        let Some(c) = login_throttle::get(&mut conn, &k.key).await? else {
            continue;
        };
        if c.last_failure_at >= forget_before && c.blocked_until > now {
            let w = c.blocked_until - now;
            wait = Some(wait.map_or(w, |v| v.max(w)));
        }
    }
    Ok(wait)
}

/// Counts a failure against every key and sets when each may try again.
pub(crate) async fn count_failure(
    db: &Db,
    throttle: &LoginThrottle,
    keys: &[ThrottleKey],
    now: OffsetDateTime,
) -> ServiceResult<()> {
    let forget_before = now - throttle.forget_after();
    let mut tx = db.begin_write().await?;
    login_throttle::purge(&mut tx, forget_before).await?;
    for k in keys {
        let failures = login_throttle::add_failure(&mut tx, &k.key, now, forget_before).await?;
        let delay = throttle.delay(k, failures);
        if delay > time::Duration::ZERO {
            login_throttle::block_until(&mut tx, &k.key, now + delay).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Forgets the failures of `pair` (an identity at an address) once it proved itself.
pub(crate) async fn clear_pair(db: &Db, pair: &ThrottleKey) -> ServiceResult<()> {
    let mut tx = db.begin_write().await?;
    login_throttle::clear(&mut tx, &pair.key).await?;
    tx.commit().await?;
    Ok(())
}

/// Opens a session for a user who has proven who they are (password or OIDC).
pub async fn start_session(
    db: &Db,
    clock: &dyn Clock,
    actor: &Actor,
    user: UserRecord,
    method: &str,
    session_hours: u32,
) -> ServiceResult<NewSession> {
    let now = clock.now();
    let secret = secret_token::random_secret();
    let session = SessionRecord {
        id: SessionId::new_v7(now),
        user_id: user.id,
        method: method.to_owned(),
        created_at: now,
        expires_at: now + time::Duration::hours(i64::from(session_hours)),
    };
    let mut tx = db.begin_write().await?;
    sessions::purge_expired(&mut tx, now).await?;
    sessions::insert(&mut tx, &session, &secret_token::hash(&secret)).await?;
    record(
        &mut tx,
        clock,
        actor,
        "login",
        Subject::new("session", session.id),
        json!({"method": method}),
    )
    .await?;
    tx.commit().await?;
    Ok(NewSession {
        csrf_token: crate::auth::csrf::token_for(&secret),
        secret,
        expires_at: session.expires_at,
        user,
    })
}

pub async fn logout(
    db: &Db,
    clock: &dyn Clock,
    actor: &Actor,
    session: SessionId,
) -> ServiceResult<()> {
    let mut tx = db.begin_write().await?;
    sessions::delete(&mut tx, session).await?;
    record(
        &mut tx,
        clock,
        actor,
        "logout",
        Subject::new("session", session),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How a request proved who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    Session { id: SessionId, secret: String },
    ApiToken { id: alm_core::TokenId },
}

/// The principal behind a session cookie, if the session is live and the user enabled.
pub async fn principal_from_session(
    db: &Db,
    clock: &dyn Clock,
    secret: &str,
    source_ip: Option<String>,
) -> ServiceResult<Option<(Principal, Credential)>> {
    let mut conn = db.read().await?;
    let Some(session) =
        sessions::find_live(&mut conn, &secret_token::hash(secret), clock.now()).await?
    else {
        return Ok(None);
    };
    let Some(p) = load_principal(&mut conn, session.user_id, source_ip, clock.now()).await? else {
        return Ok(None);
    };
    Ok(Some((
        p,
        Credential::Session {
            id: session.id,
            secret: secret.to_owned(),
        },
    )))
}

/// The principal behind a bearer API token, if usable (see `api_tokens::find_usable`).
pub async fn principal_from_token(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
    source_ip: Option<String>,
) -> ServiceResult<Option<(Principal, Credential)>> {
    if !token.starts_with(secret_token::API_TOKEN_PREFIX) {
        return Ok(None);
    }
    let now = clock.now();
    let mut conn = db.read().await?;
    let Some(record_) = api_tokens::find_usable(&mut conn, &secret_token::hash(token), now).await?
    else {
        return Ok(None);
    };
    // Last use is kept to the minute: one write per token per minute, not per request.
    if record_
        .last_used_at
        .is_none_or(|t| now - t > time::Duration::minutes(1))
    {
        drop(conn);
        let mut tx = db.begin_write().await?;
        api_tokens::touch(&mut tx, record_.id, now).await?;
        tx.commit().await?;
        conn = db.read().await?;
    }
    let Some(p) = load_principal(&mut conn, record_.user_id, source_ip, now).await? else {
        return Ok(None);
    };
    Ok(Some((p, Credential::ApiToken { id: record_.id })))
}

async fn load_principal(
    conn: &mut alm_store::Conn,
    id: UserId,
    source_ip: Option<String>,
    now: time::OffsetDateTime,
) -> ServiceResult<Option<Principal>> {
    let Some(user) = users::acting(conn, id).await? else {
        return Ok(None);
    };
    if !user.enabled {
        return Ok(None);
    }
    // An API client's tokens stop at the client's expiry, whatever their own (SPEC §7.7).
    let client = user.source == users::UserSource::ApiClient;
    if client && !super::api_clients::client_user_usable(conn, id, now).await? {
        return Ok(None);
    }
    let permissions = permissions::effective(conn, id).await?;
    Ok(Some(Principal {
        actor: Actor {
            user_id: Some(id),
            name: Some(if client {
                super::api_clients::actor_name(&user.display_name)
            } else {
                user.display_name
            }),
            email: user.first_email,
            source_ip,
        },
        user_id: id,
        permissions,
        password_must_change: user.password_must_change,
    }))
}

/// Finds the enabled user an OIDC login's email belongs to.
pub async fn user_for_oidc_email(
    db: &Db,
    email: &str,
) -> ServiceResult<Result<UserRecord, &'static str>> {
    let Ok(email) = Email::parse("email", email) else {
        return Ok(Err("the provider sent no valid email address"));
    };
    let mut conn = db.read().await?;
    Ok(match users::find_by_email(&mut conn, &email).await? {
        None => Err("no alm user has this email address; ask an administrator to add you"),
        Some(u) if !u.enabled => Err("your alm user is disabled; ask an administrator"),
        Some(u) => Ok(u),
    })
}
