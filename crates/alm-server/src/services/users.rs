//! People (SPEC §2.1): create, read, update, enable and disable users.
//!
//! Scope: without `user:manage` a user reads and renames only themselves. Email changes and
//! enable/disable need `manage`: an email is a login identity (OIDC matches by it).
//! Users are never deleted: history refers to them.

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::{denied, Actor, ServiceError, ServiceResult};
use alm_core::paging::PageRequest;
use alm_core::permissions::{perm, Can, Scope};
use alm_core::{Clock, Email, FieldError, GroupId, ObjectName, RoleId, UserId, ValidationErrors};
use alm_store::users::{self, NewUser, UserFilter, UserRecord, UserSource};
use alm_store::{roles, sessions, Db, WriteTx};
use serde_json::json;

pub const MAX_EMAILS: usize = 10;

/// A user with the groups and roles they have directly.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: UserRecord,
    pub group_ids: Vec<GroupId>,
    pub role_ids: Vec<RoleId>,
}

pub struct CreateUser {
    pub display_name: String,
    pub emails: Vec<String>,
    pub enabled: bool,
    /// Send the welcome email with the sign-in link (SPEC §2.1 "trigger verification email").
    pub welcome_email: bool,
}

#[derive(Default)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    pub emails: Option<Vec<String>>,
}

/// Parses an email list: at least one, at most `MAX_EMAILS`. An address listed twice (in any
/// case) is kept once: nothing is lost, and the list means the same.
pub fn parse_emails(field: &str, input: &[String], errors: &mut ValidationErrors) -> Vec<Email> {
    if input.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            "at least one email address is required",
        ));
    }
    if input.len() > MAX_EMAILS {
        errors.push(FieldError::new(
            field,
            "max-items",
            format!("at most {MAX_EMAILS} email addresses"),
        ));
    }
    let mut out: Vec<Email> = Vec::new();
    for (i, raw) in input.iter().enumerate() {
        if let Some(e) = errors.check(Email::parse(&format!("{field}[{i}]"), raw)) {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// Refuses emails that belong to another user, naming the field.
async fn check_emails_free(
    tx: &mut WriteTx,
    field: &str,
    emails: &[Email],
    owner: Option<UserId>,
) -> ServiceResult<()> {
    for (i, e) in emails.iter().enumerate() {
        if let Some(other) = users::find_by_email(tx, e).await? {
            if Some(other.id) != owner {
                return Err(ServiceError::Conflict(FieldError::new(
                    format!("{field}[{i}]"),
                    "unique",
                    "another user already has this email address",
                )));
            }
        }
    }
    Ok(())
}

/// Creates a local user (in Everyone, with the auto-apply roles); `base_url` is what the
/// welcome email's sign-in link starts with.
pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::UserCreate>,
    actor: &Actor,
    input: CreateUser,
    base_url: &str,
) -> ServiceResult<UserDetail> {
    let _ = can;
    insert_user(db, clock, actor, input, UserSource::Local, None, base_url).await
}

/// The one path that creates users, for the API and for first start alike.
pub(crate) async fn insert_user(
    db: &Db,
    clock: &dyn Clock,
    actor: &Actor,
    input: CreateUser,
    source: UserSource,
    password_hash: Option<&str>,
    base_url: &str,
) -> ServiceResult<UserDetail> {
    let directory = None;
    let mut errors = ValidationErrors::new();
    let name = errors.check(ObjectName::parse("display_name", &input.display_name));
    let emails = parse_emails("emails", &input.emails, &mut errors);
    errors.into_result()?;
    let name = name.expect("checked");
    let now = clock.now();
    let id = UserId::new_v7(now);
    let mut tx = db.begin_write().await?;
    check_emails_free(&mut tx, "emails", &emails, None).await?;
    users::insert(
        &mut tx,
        &NewUser {
            id,
            display_name: name.as_str(),
            emails: &emails,
            enabled: input.enabled,
            source,
            password_hash,
            directory,
            at: now,
        },
    )
    .await
    .map_err(|e| match e {
        alm_store::StoreError::Conflict { .. } => ServiceError::Conflict(FieldError::new(
            "emails",
            "unique",
            "another user already has one of these email addresses",
        )),
        other => other.into(),
    })?;
    let auto_roles = roles::auto_apply_ids(&mut tx).await?;
    for role in &auto_roles {
        roles::assign_user(&mut tx, *role, id).await?;
    }
    record(
        &mut tx,
        clock,
        actor,
        "user.created",
        Subject::new("user", id),
        json!({"after": {"enabled": input.enabled, "source": source.as_str(), "roles": auto_roles}}),
    )
    .await?;
    if input.welcome_email {
        super::notifications::welcome(&mut tx, now, base_url, id, name.as_str(), source).await?;
    }
    let detail = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(detail)
}

async fn load(conn: &mut alm_store::Conn, id: UserId) -> ServiceResult<UserDetail> {
    let user = users::get(conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "user" })?;
    let group_ids = users::group_ids(conn, id).await?;
    let role_ids = users::role_ids(conn, id).await?;
    Ok(UserDetail {
        user,
        group_ids,
        role_ids,
    })
}

pub(crate) async fn in_scope<P: alm_core::permissions::PermissionMarker>(
    db: &Db,
    can: &Can<P>,
    id: UserId,
) -> ServiceResult<()> {
    if can.reaches(id) {
        return Ok(());
    }
    // Outside the caller's scope the user is as good as absent (no existence leak); a probe
    // of a user who exists is audited.
    let mut conn = db.read().await?;
    match users::get(&mut conn, id).await? {
        Some(_) => Err(ServiceError::out_of_scope("user", "user", can.actor(), id)),
        None => Err(ServiceError::NotFound { what: "user" }),
    }
}

pub async fn get(db: &Db, can: &Can<perm::UserRead>, id: UserId) -> ServiceResult<UserDetail> {
    in_scope(db, can, id).await?;
    let mut conn = db.read().await?;
    load(&mut conn, id).await
}

pub async fn list(
    db: &Db,
    can: &Can<perm::UserRead>,
    mut filter: UserFilter,
    page: &PageRequest,
) -> ServiceResult<(Vec<UserRecord>, u64)> {
    if can.scope() == Scope::Own {
        filter.only = Some(can.actor());
    }
    let mut conn = db.read().await?;
    Ok(users::list(&mut conn, &filter, page).await?)
}

pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::UserUpdate>,
    actor: &Actor,
    id: UserId,
    input: UpdateUser,
) -> ServiceResult<UserDetail> {
    in_scope(db, can, id).await?;
    super::api_clients::ensure_person(&mut *db.read().await?, id, "id").await?;
    if input.emails.is_some() {
        can.require_manage().map_err(denied(can.actor()))?;
    }
    let mut errors = ValidationErrors::new();
    let name = input
        .display_name
        .as_deref()
        .and_then(|n| errors.check(ObjectName::parse("display_name", n)));
    let emails = input
        .emails
        .as_ref()
        .map(|e| parse_emails("emails", e, &mut errors));
    errors.into_result()?;
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let before = load(&mut tx, id).await?;
    if let Some(name) = &name {
        users::update_display_name(&mut tx, id, name.as_str(), now).await?;
    }
    if let Some(emails) = &emails {
        check_emails_free(&mut tx, "emails", emails, Some(id)).await?;
        users::replace_emails(&mut tx, id, emails).await?;
    }
    record(
        &mut tx,
        clock,
        actor,
        "user.updated",
        Subject::new("user", id),
        json!({"changed": {"display_name": name.is_some(), "emails": emails.as_ref().map(|e| e.len())},
               "before": {"email_count": before.user.emails.len()}}),
    )
    .await?;
    let detail = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(detail)
}

/// Enables or disables a user. Disabling ends their sessions at once; their API tokens stop
/// working while they are disabled (checked on every request) and work again when enabled.
pub async fn set_enabled(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::UserUpdate>,
    actor: &Actor,
    id: UserId,
    enabled: bool,
) -> ServiceResult<UserDetail> {
    can.require_manage().map_err(denied(can.actor()))?;
    if !enabled && id == can.actor() {
        return Err(ServiceError::Refused(Refusal::OwnAccount(
            "you cannot disable yourself; ask another administrator".into(),
        )));
    }
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let before = load(&mut tx, id).await?;
    // A revoked client's user must stay disabled: only its revocation changes it.
    super::api_clients::ensure_person(&mut tx, id, "id").await?;
    if before.user.enabled == enabled {
        return Ok(before);
    }
    users::set_enabled(&mut tx, id, enabled, now).await?;
    if !enabled {
        super::accounts::refuse_orphans(&mut tx, alm_store::accounts::Owner::User(id), "this user")
            .await?;
    }
    let ended = if enabled {
        0
    } else {
        sessions::delete_for_user(&mut tx, id).await?
    };
    record(
        &mut tx,
        clock,
        actor,
        if enabled { "user.enabled" } else { "user.disabled" },
        Subject::new("user", id),
        json!({"before": {"enabled": before.user.enabled}, "after": {"enabled": enabled}, "sessions_ended": ended}),
    )
    .await?;
    let detail = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(detail)
}

/// The caller themselves: every logged-in user may read their own record.
pub async fn get_self(db: &Db, principal: &super::Principal) -> ServiceResult<UserDetail> {
    let mut conn = db.read().await?;
    load(&mut conn, principal.user_id).await
}

/// The enabled user with this email address: how a person names a co-owner in a form (an
/// owner may not have `user:read` to look people up). Says only whether an enabled user has
/// the address — what the owner needs to know to pick someone else.
pub async fn enabled_by_email(db: &Db, email: &str) -> ServiceResult<UserId> {
    let email = Email::parse("email", email)?;
    let mut conn = db.read().await?;
    match users::find_by_email(&mut conn, &email).await? {
        Some(u) if u.enabled => Ok(u.id),
        _ => Err(FieldError::new(
            "email",
            "exists",
            format!("no enabled user has the email address {email}"),
        )
        .into()),
    }
}

/// Who these users are, in order: (display name, primary email address) — a draft's
/// co-owners in its form, a requester and owners for an approver. A user id without its user
/// is a broken reference: refused as corrupt.
pub async fn contacts_of(db: &Db, ids: &[UserId]) -> ServiceResult<Vec<(String, String)>> {
    let mut conn = db.read().await?;
    let found = users::get_many(&mut conn, ids).await?;
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|u| u.id == *id)
                .map(|u| {
                    (
                        u.display_name.clone(),
                        u.emails.first().cloned().unwrap_or_default(),
                    )
                })
                .ok_or_else(|| {
                    ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                        "user {id} is named on a request but has no record"
                    )))
                })
        })
        .collect()
}
