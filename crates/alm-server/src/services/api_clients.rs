//! API clients (SPEC §7.7, §9): an administrator registers an external system (a ticketing
//! tool), which then obtains short-lived bearer tokens by OAuth 2.0 client credentials
//! (RFC 6749 §4.4) and acts with one role — never one that holds a permission its creator
//! lacks. Each client acts as a user row of its own (source `api-client`), so approval steps
//! can list it, permissions are checked the usual way and every audit record names it.
//! Revoking a client disables that user, which stops its tokens at once; an expired client's
//! tokens stop at its expiry (checked on every request, `login::load_principal`).

use super::audit::{record, Subject};
use super::login;
use super::{Actor, ServiceError, ServiceResult};
use crate::auth::rate_limit::LoginThrottle;
use crate::auth::secret_token;
use alm_core::paging::PageRequest;
use alm_core::permissions::{perm, Can, Denied, EffectivePermissions};
use alm_core::{Clock, FieldError, ObjectName, RoleId, TokenId, UserId, ValidationErrors};
use alm_store::anonymous_denials::DenialKind;
use alm_store::api_clients::{self as store, ClientRecord};
use alm_store::api_tokens::{self, TokenRecord};
use alm_store::users::{NewUser, UserSource};
use alm_store::{roles, users, Db};
use serde_json::json;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long an access token lives (RFC 6749 §4.4.3 `expires_in`): short, since a client asks
/// for a new one whenever it needs to.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(1);

/// Client ids start with this, so people and secret scanners recognise them.
pub const CLIENT_ID_PREFIX: &str = "almc_";

pub struct CreateClient {
    pub name: String,
    pub role_id: Option<String>,
    /// Days until the client expires; `None` for no expiry.
    pub expires_in_days: Option<u32>,
}

/// A new client and its secret, which is never shown again.
pub struct IssuedClient {
    pub record: ClientRecord,
    pub secret: String,
}

/// An access token obtained by client credentials.
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

/// Why a token request is refused, in RFC 6749 §5.2's terms.
#[derive(Debug)]
pub enum TokenRefusal {
    /// Unknown client, wrong secret, revoked or expired: one answer for all, so a caller
    /// learns nothing about which client ids exist.
    InvalidClient,
    /// Too many failures for this client id from this address, or from this address: refused
    /// unread for `seconds` more (the password login's throttle, `auth/rate_limit.rs`).
    Throttled { seconds: i64 },
}

/// Registers a client acting with role `role_id`, which must not hold a permission the
/// creator lacks (`creator`: their effective permissions).
pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::ApiClientCreate>,
    creator: &EffectivePermissions,
    actor: &Actor,
    input: CreateClient,
) -> ServiceResult<IssuedClient> {
    let mut errors = ValidationErrors::new();
    let name = errors.check(ObjectName::parse("name", &input.name));
    errors.check(super::api_tokens::check_days(
        "expires_in_days",
        input.expires_in_days,
    ));
    let role_id = match input.role_id.as_deref() {
        None => {
            errors.push(FieldError::new(
                "role_id",
                "required",
                "name the role the client acts with",
            ));
            None
        }
        Some(text) => errors.check(
            text.parse::<RoleId>()
                .map_err(|_| FieldError::new("role_id", "format", "must be a role id (a UUID)")),
        ),
    };
    errors.into_result()?;
    let (name, role_id) = (name.expect("checked"), role_id.expect("checked"));
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let role = roles::get(&mut tx, role_id).await?.ok_or_else(|| {
        ServiceError::from(FieldError::new("role_id", "exists", "no role has this id"))
    })?;
    if !role.enabled {
        return Err(FieldError::new(
            "role_id",
            "enabled",
            "the role is disabled; a client acting with it could do nothing",
        )
        .into());
    }
    // Never more than the creator holds (SPEC §7.7): the first permission they lack is named.
    if let Some(missing) = role.permissions.iter().find(|p| !creator.has(**p)) {
        return Err(ServiceError::Forbidden {
            denied: Denied { needed: *missing },
            actor: can.actor(),
        });
    }
    let user_id = UserId::new_v7(now);
    users::insert(
        &mut tx,
        &NewUser {
            id: user_id,
            display_name: name.as_str(),
            emails: &[],
            enabled: true,
            source: UserSource::ApiClient,
            password_hash: None,
            directory: None,
            at: now,
        },
    )
    .await?;
    roles::assign_user(&mut tx, role_id, user_id).await?;
    let client = ClientRecord {
        id: alm_core::ids::uuid_v7_at(now),
        user_id,
        client_id: format!("{CLIENT_ID_PREFIX}{}", Uuid::new_v4().simple()),
        name: name.as_str().to_owned(),
        role_id,
        created_by: Some(can.actor()),
        created_at: now,
        expires_at: input
            .expires_in_days
            .map(|d| now + Duration::days(i64::from(d))),
        revoked_at: None,
    };
    let secret = secret_token::random_secret();
    store::insert(&mut tx, &client, &secret_token::hash(&secret)).await?;
    record(
        &mut tx,
        clock,
        actor,
        "api-client.created",
        Subject::new("api-client", client.id),
        json!({"after": {"name": client.name, "client_id": client.client_id, "role_id": role_id,
               "role": role.name, "user_id": user_id, "expires_in_days": input.expires_in_days}}),
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedClient {
        record: client,
        secret,
    })
}

/// The roles `creator` may give a new client: enabled, and holding nothing the creator lacks
/// (what [`create`] accepts), by name. For the form's choice; [`create`] checks again.
pub async fn role_choices(
    db: &Db,
    _can: &Can<perm::ApiClientCreate>,
    creator: &EffectivePermissions,
) -> ServiceResult<Vec<roles::RoleRecord>> {
    let mut conn = db.read().await?;
    let page = PageRequest::parse(Some(500), Some(0), Some("name"), roles::SORT_KEYS)
        .expect("the choice's page is valid");
    let filter = roles::RoleFilter {
        enabled: Some(true),
        ..Default::default()
    };
    let (all, _) = roles::list(&mut conn, &filter, &page).await?;
    Ok(all
        .into_iter()
        .filter(|r| r.permissions.iter().all(|p| creator.has(*p)))
        .collect())
}

/// The names of the roles `clients` act with (a role a client acts with cannot be deleted, so
/// one that is missing is corruption).
pub async fn role_names(
    db: &Db,
    _can: &Can<perm::ApiClientRead>,
    clients: &[ClientRecord],
) -> ServiceResult<std::collections::HashMap<RoleId, String>> {
    let mut conn = db.read().await?;
    let mut names = std::collections::HashMap::new();
    for c in clients {
        if names.contains_key(&c.role_id) {
            continue;
        }
        let role = roles::get(&mut conn, c.role_id).await?.ok_or_else(|| {
            ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                "api_clients.role_id of client {}: no such role",
                c.id
            )))
        })?;
        names.insert(c.role_id, role.name);
    }
    Ok(names)
}

pub async fn list(
    db: &Db,
    _can: &Can<perm::ApiClientRead>,
    query: Option<&str>,
    page: &PageRequest,
) -> ServiceResult<(Vec<ClientRecord>, u64)> {
    let mut conn = db.read().await?;
    Ok(store::list(&mut conn, query, page).await?)
}

pub async fn get(
    db: &Db,
    _can: &Can<perm::ApiClientRead>,
    id: Uuid,
) -> ServiceResult<ClientRecord> {
    let mut conn = db.read().await?;
    store::get(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "API client" })
}

/// Revokes the client: its user is disabled (every token it holds stops at once) and it can
/// obtain no new one. Revoking twice changes nothing.
pub async fn revoke(
    db: &Db,
    clock: &dyn Clock,
    _can: &Can<perm::ApiClientDelete>,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<ClientRecord> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let client = store::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "API client" })?;
    if store::revoke(&mut tx, id, now).await? {
        users::set_enabled(&mut tx, client.user_id, false, now).await?;
        record(
            &mut tx,
            clock,
            actor,
            "api-client.revoked",
            Subject::new("api-client", id),
            json!({"name": client.name, "client_id": client.client_id, "user_id": client.user_id}),
        )
        .await?;
    }
    let client = store::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "API client" })?;
    tx.commit().await?;
    Ok(client)
}

/// The client-credentials grant (RFC 6749 §4.4): a usable client with this id and secret gets
/// an access token, an API token of its user that ends after [`ACCESS_TOKEN_LIFETIME`] or at
/// the client's expiry, whichever comes first.
pub async fn token(
    db: &Db,
    clock: &dyn Clock,
    throttle: &LoginThrottle,
    client_id: &str,
    secret: &str,
    source: IpAddr,
) -> ServiceResult<Result<AccessToken, TokenRefusal>> {
    let now = clock.now();
    // Counted like password logins: per (client id, address) and per address, in the same
    // table, under keys of their own.
    let keys = throttle.keys(&format!("oauth-client:{client_id}"), source);
    if let Some(wait) = login::throttled_for(db, throttle, &keys, now).await? {
        super::anonymous_denials::count(db, clock, &source.to_string(), DenialKind::ThrottledLogin)
            .await?;
        return Ok(Err(TokenRefusal::Throttled {
            seconds: wait.whole_seconds().max(1),
        }));
    }
    let mut tx = db.begin_write().await?;
    let found = store::authenticate(&mut tx, client_id, &secret_token::hash(secret)).await?;
    let Some(client) = found.filter(|c| c.usable_at(now)) else {
        drop(tx);
        login::count_failure(db, throttle, &keys, now).await?;
        return Ok(Err(TokenRefusal::InvalidClient));
    };
    let source_ip = Some(source.to_string());
    let expires_at = client.expires_at.map_or(now + ACCESS_TOKEN_LIFETIME, |e| {
        e.min(now + ACCESS_TOKEN_LIFETIME)
    });
    let token = secret_token::new_api_token();
    let record_ = TokenRecord {
        id: TokenId::new_v7(now),
        user_id: client.user_id,
        name: "OAuth access token".into(),
        created_at: now,
        expires_at: Some(expires_at),
        last_used_at: None,
        revoked_at: None,
    };
    api_tokens::insert(&mut tx, &record_, &secret_token::hash(&token)).await?;
    let actor = Actor {
        user_id: Some(client.user_id),
        name: Some(actor_name(&client.name)),
        email: None,
        source_ip,
    };
    record(
        &mut tx,
        clock,
        &actor,
        "api-client.token-issued",
        Subject::new("api-client", client.id),
        json!({"token_id": record_.id, "expires_at": alm_core::rfc3339::format(expires_at)}),
    )
    .await?;
    tx.commit().await?;
    login::clear_pair(db, &keys[0]).await?;
    Ok(Ok(AccessToken {
        token,
        expires_in: (expires_at - now).whole_seconds(),
    }))
}

/// How an API client is named as an actor (audit records, decisions).
pub fn actor_name(client_name: &str) -> String {
    format!("API client {client_name}")
}

/// Whether the user an API client acts as may act at `now` (not revoked, not expired).
pub(crate) async fn client_user_usable(
    conn: &mut alm_store::Conn,
    user: UserId,
    now: OffsetDateTime,
) -> ServiceResult<bool> {
    Ok(store::of_user(conn, user)
        .await?
        .is_some_and(|c| c.usable_at(now)))
}

/// Refuses `user` where only a person fits (group members, direct roles, owners, requesters,
/// a user's own changes): API clients are changed only here.
pub(crate) async fn ensure_person(
    conn: &mut alm_store::Conn,
    user: UserId,
    field: &str,
) -> ServiceResult<()> {
    if let Some(u) = users::get(conn, user).await? {
        if u.source == UserSource::ApiClient {
            return Err(FieldError::new(
                field,
                "person",
                "is an API client's user; API clients are changed only through /api/v1/api-clients",
            )
            .into());
        }
    }
    Ok(())
}
