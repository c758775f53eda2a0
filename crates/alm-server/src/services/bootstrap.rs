//! First start and the administrator's command-line tools: the built-in roles and the
//! Everyone group, the bootstrap administrator, password resets, tokens for automation.
//!
//! Everything here runs as the system actor and is audited like any other change.

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::users::{insert_user, CreateUser};
use super::{api_tokens, Actor, ServiceError, ServiceResult};
use crate::auth::password;
use alm_core::roles::{BuiltinRole, EVERYONE_GROUP_KEY, EVERYONE_GROUP_NAME};
use alm_core::{Clock, Email, FieldError, GroupId, RoleId};
use alm_store::groups::{self, NewGroup};
use alm_store::roles::{self, NewRole};
use alm_store::users::UserSource;
use alm_store::{sessions, users, Db};
use serde_json::json;

/// Creates whatever built-in roles and groups are missing. Safe to run at every start.
pub async fn ensure_builtins(db: &Db, clock: &dyn Clock) -> ServiceResult<()> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    for role in BuiltinRole::ALL {
        if roles::find_by_builtin_key(&mut tx, role.key())
            .await?
            .is_some()
        {
            continue;
        }
        let id = RoleId::new_v7(now);
        roles::insert(
            &mut tx,
            &NewRole {
                id,
                builtin_key: Some(role.key()),
                name: role.display_name(),
                description: role.description(),
                enabled: true,
                auto_apply: false,
                at: now,
            },
        )
        .await?;
        roles::set_permissions(&mut tx, id, &role.default_permissions()).await?;
        record(
            &mut tx,
            clock,
            &Actor::system(),
            "role.created",
            Subject::new("role", id),
            json!({"builtin": role.key()}),
        )
        .await?;
    }
    let everyone_missing = match groups::everyone_id(&mut tx).await {
        Ok(_) => false,
        Err(alm_store::StoreError::NotFound(_)) => true,
        Err(e) => return Err(e.into()),
    };
    if everyone_missing {
        let id = GroupId::new_v7(now);
        groups::insert(
            &mut tx,
            &NewGroup {
                id,
                builtin_key: Some(EVERYONE_GROUP_KEY),
                name: EVERYONE_GROUP_NAME,
                description: "Every user of alm.",
                enabled: true,
                at: now,
            },
        )
        .await?;
        let owner = roles::find_by_builtin_key(&mut tx, BuiltinRole::AccountOwner.key())
            .await?
            .ok_or(ServiceError::NotFound {
                what: "built-in role Account Owner",
            })?;
        groups::set_roles(&mut tx, id, &[owner]).await?;
        record(
            &mut tx,
            clock,
            &Actor::system(),
            "group.created",
            Subject::new("group", id),
            json!({"builtin": EVERYONE_GROUP_KEY}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The outcome of making sure an administrator exists.
pub enum AdminBootstrap {
    /// Users existed already; nothing was done.
    Existing,
    /// The administrator was created with the given password.
    Created { email: String },
    /// Created with a generated password, to be shown once.
    CreatedWithGenerated { email: String, password: String },
}

/// On a database without users, creates the bootstrap administrator (System Administrator
/// role, local password). `password` comes from the environment or is generated.
pub async fn ensure_admin(
    db: &Db,
    clock: &dyn Clock,
    email: &str,
    password_input: Option<String>,
) -> ServiceResult<AdminBootstrap> {
    ensure_named_admin(db, clock, "Administrator", email, password_input).await
}

/// [`ensure_admin`] with the administrator's name (`alm install` asks for it).
pub async fn ensure_named_admin(
    db: &Db,
    clock: &dyn Clock,
    name: &str,
    email: &str,
    password_input: Option<String>,
) -> ServiceResult<AdminBootstrap> {
    {
        let mut conn = db.read().await?;
        if users::count(&mut conn).await? > 0 {
            return Ok(AdminBootstrap::Existing);
        }
    }
    let email = Email::parse("ALM_ADMIN_EMAIL", email)?;
    let (password, generated) = match password_input {
        Some(p) => {
            password::check_strength("ALM_ADMIN_PASSWORD", &p)?;
            (p, false)
        }
        None => (password::generate(), true),
    };
    let hash = password::hash(password.clone())
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let detail = insert_user(
        db,
        clock,
        &Actor::system(),
        CreateUser {
            display_name: name.trim().to_owned(),
            emails: vec![email.to_string()],
            enabled: true,
            // The first administrator is told the password on the console, not by email.
            welcome_email: false,
        },
        UserSource::Local,
        Some(&hash),
        "",
    )
    .await?;
    let mut tx = db.begin_write().await?;
    let admin_role = roles::find_by_builtin_key(&mut tx, BuiltinRole::SystemAdministrator.key())
        .await?
        .ok_or(ServiceError::NotFound {
            what: "built-in role System Administrator",
        })?;
    roles::assign_user(&mut tx, admin_role, detail.user.id).await?;
    if generated {
        // Printed once on the console: good for one sign-in, then the administrator chooses.
        users::set_password_hash(&mut tx, detail.user.id, Some(&hash), true, clock.now()).await?;
    }
    record(
        &mut tx,
        clock,
        &Actor::system(),
        "role.assigned",
        Subject::new("role", admin_role),
        json!({"user_id": detail.user.id, "bootstrap": true}),
    )
    .await?;
    tx.commit().await?;
    Ok(if generated {
        AdminBootstrap::CreatedWithGenerated {
            email: email.to_string(),
            password,
        }
    } else {
        AdminBootstrap::Created {
            email: email.to_string(),
        }
    })
}

/// Sets a new local password for the user with `email` and ends their sessions.
/// Returns the password (generated when none was given: then it is good for one sign-in, and
/// the user must choose their own before anything else).
pub async fn reset_password(
    db: &Db,
    clock: &dyn Clock,
    email: &str,
    password_input: Option<String>,
) -> ServiceResult<String> {
    let email = Email::parse("EMAIL", email)?;
    let one_time = password_input.is_none();
    let password = match password_input {
        Some(p) => {
            password::check_strength("ALM_ADMIN_PASSWORD", &p)?;
            p
        }
        None => password::generate(),
    };
    let hash = password::hash(password.clone())
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    let user = users::find_by_email(&mut tx, &email)
        .await?
        .ok_or_else(|| {
            ServiceError::Validation(
                FieldError::new(
                    "EMAIL",
                    "exists",
                    format!("no user has the email address {email}"),
                )
                .into(),
            )
        })?;
    users::set_password_hash(&mut tx, user.id, Some(&hash), one_time, clock.now()).await?;
    let ended = sessions::delete_for_user(&mut tx, user.id).await?;
    record(
        &mut tx,
        clock,
        &Actor::system(),
        "user.password-reset",
        Subject::new("user", user.id),
        json!({"sessions_ended": ended, "one_time": one_time}),
    )
    .await?;
    tx.commit().await?;
    Ok(password)
}

/// Issues an API token for the user with `email` (for automation set up from the shell).
pub async fn create_token_for(
    db: &Db,
    clock: &dyn Clock,
    email: &str,
    name: &str,
    expires_in_days: Option<u32>,
) -> ServiceResult<api_tokens::IssuedToken> {
    let email = Email::parse("EMAIL", email)?;
    let user = {
        let mut conn = db.read().await?;
        users::find_by_email(&mut conn, &email).await?
    }
    .ok_or_else(|| {
        ServiceError::Validation(
            FieldError::new(
                "EMAIL",
                "exists",
                format!("no user has the email address {email}"),
            )
            .into(),
        )
    })?;
    if !user.enabled {
        return Err(ServiceError::Refused(Refusal::InState(format!(
            "the user {email} is disabled"
        ))));
    }
    api_tokens::issue(
        db,
        clock,
        &Actor::system(),
        user.id,
        api_tokens::CreateToken {
            name: name.to_owned(),
            expires_in_days,
        },
    )
    .await
}
