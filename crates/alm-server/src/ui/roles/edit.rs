//! A role's create and edit forms, with the permission grid as tick boxes.

use super::*;

#[derive(Template)]
#[template(path = "role_form.html")]
struct FormPage {
    chrome: Chrome,
    title: String,
    action: String,
    back: String,
    button: &'static str,
    csrf_token: String,
    form: Form,
    errors: Vec<FormError>,
    grid: Grid,
    grid_title: &'static str,
    /// The error at the grid (a permission the granter may not hand out).
    permissions_error: Option<String>,
}

/// What a role form sent.
struct Sent {
    name: String,
    description: String,
    auto_apply: bool,
    enabled: bool,
    permissions: Vec<String>,
}

fn sent(posted: &[(String, String)]) -> Sent {
    Sent {
        name: form::one(posted, "name"),
        description: form::one(posted, "description"),
        auto_apply: form::one(posted, "auto_apply") == "yes",
        enabled: form::one(posted, "enabled") == "yes",
        permissions: form::all(posted, "permissions"),
    }
}

fn fields(v: &Sent, creating: bool) -> Form {
    let mut fields = vec![
        Field::new("name", "Name", Control::Text).value(&v.name),
        Field::new("description", "Description", Control::TextArea(2))
            .hint("Optional. Who the role is for.")
            .value(&v.description),
        Field::new("auto_apply", "Given to every new user", Control::Checkbox)
            .hint(
                "Users created or synced from now on get it; those who exist keep what they have.",
            )
            .checked(v.auto_apply),
    ];
    if creating {
        fields.push(
            Field::new(
                "enabled",
                "Enabled: its holders have its permissions",
                Control::Checkbox,
            )
            .checked(v.enabled),
        );
    }
    Form::new(fields)
}

/// The texts of the ticked boxes as permissions; a text the grid never sends is ignored here
/// and refused by the service, which parses them again with the granter's rules.
fn held(texts: &[String]) -> Vec<Permission> {
    texts
        .iter()
        .filter_map(|t| Permission::parse("permissions", t).ok())
        .collect()
}

async fn form_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    editing: Option<(RoleId, &str)>,
    v: &Sent,
    errors: Vec<alm_core::FieldError>,
) -> FormPage {
    let (title, action, back, button) = match editing {
        None => (
            "New role".to_owned(),
            "/roles/new".to_owned(),
            "/roles".to_owned(),
            "Create role",
        ),
        Some((id, name)) => (
            format!("Edit {name}"),
            format!("/roles/{id}/edit"),
            format!("/roles/{id}"),
            "Save changes",
        ),
    };
    let mut form = fields(v, editing.is_none());
    // Errors about the permissions belong to the grid, the rest to the fields.
    let (grid_errors, others): (Vec<_>, Vec<_>) = errors
        .into_iter()
        .partition(|e| e.field.starts_with("permissions"));
    form.place(others);
    let permissions_error = grid_errors.first().map(|e| e.message.clone());
    for e in grid_errors {
        form.errors.push(FormError {
            field: "permissions-title".into(),
            message: e.message,
        });
    }
    let mut chrome = Chrome::new(Some(signed_in), path).with_counts(s).await;
    chrome.has_errors = form.has_errors();
    FormPage {
        chrome,
        title,
        action,
        back,
        button,
        csrf_token: signed_in.csrf_token(),
        errors: form.errors.clone(),
        form,
        grid: grid(&held(&v.permissions), true),
        grid_title: "permissions-title",
        permissions_error,
    }
}

pub(super) async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::RoleCreate>(&path)?;
    let v = Sent {
        name: String::new(),
        description: String::new(),
        auto_apply: false,
        enabled: true,
        permissions: Vec::new(),
    };
    Ok(render(
        StatusCode::OK,
        &form_page(&s, &signed_in, &path, None, &v, Vec::new()).await,
    ))
}

/// The form again with the service's field errors, or the error page.
async fn refused_form(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    editing: Option<(RoleId, &str)>,
    v: &Sent,
    e: ServiceError,
) -> PageResult {
    let (status, errs) = match e {
        ServiceError::Validation(v) => (StatusCode::UNPROCESSABLE_ENTITY, v.0),
        ServiceError::Conflict(c) => (StatusCode::CONFLICT, vec![c]),
        other => return Err(errors::service(signed_in, path, other)),
    };
    Ok(render(
        status,
        &form_page(s, signed_in, path, editing, v, errs).await,
    ))
}

pub(super) async fn create(
    State(s): State<AppState>,
    browser: Browser,
    body: String,
) -> PageResult {
    let path = browser.path.clone();
    let posted = form::pairs(&body);
    let signed_in = browser.require_form(&form::one(&posted, "csrf_token"))?;
    let can = signed_in.can::<perm::RoleCreate>(&path)?;
    let v = sent(&posted);
    let input = CreateRole {
        name: v.name.clone(),
        description: v.description.clone(),
        permissions: v.permissions.clone(),
        enabled: v.enabled,
        auto_apply: v.auto_apply,
    };
    match roles::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.permissions,
        &signed_in.principal.actor,
        input,
    )
    .await
    {
        Ok(r) => Ok(Redirect::to(&format!("/roles/{}?done=created", r.id)).into_response()),
        Err(e) => refused_form(&s, &signed_in, &path, None, &v, e).await,
    }
}

pub(super) async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<RoleId>(&path, &id)?;
    signed_in.can::<perm::RoleUpdate>(&path)?;
    let read = signed_in.can::<perm::RoleRead>(&path)?;
    let r = roles::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let v = Sent {
        name: r.name.clone(),
        description: r.description.clone(),
        auto_apply: r.auto_apply,
        enabled: r.enabled,
        permissions: r.permissions.iter().map(ToString::to_string).collect(),
    };
    Ok(render(
        StatusCode::OK,
        &form_page(&s, &signed_in, &path, Some((id, &r.name)), &v, Vec::new()).await,
    ))
}

pub(super) async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    body: String,
) -> PageResult {
    let path = browser.path.clone();
    let posted = form::pairs(&body);
    let signed_in = browser.require_form(&form::one(&posted, "csrf_token"))?;
    let id = signed_in.id::<RoleId>(&path, &id)?;
    let can = signed_in.can::<perm::RoleUpdate>(&path)?;
    let v = sent(&posted);
    let input = UpdateRole {
        name: Some(v.name.clone()),
        description: Some(v.description.clone()),
        permissions: Some(v.permissions.clone()),
        auto_apply: Some(v.auto_apply),
    };
    match roles::update(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
        input,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/roles/{id}?done=updated")).into_response()),
        Err(ServiceError::Refused(r)) => {
            let mut page =
                form_page(&s, &signed_in, &path, Some((id, "role")), &v, Vec::new()).await;
            page.errors.push(FormError {
                field: "name".into(),
                message: r.to_string(),
            });
            page.chrome.has_errors = true;
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(e) => refused_form(&s, &signed_in, &path, Some((id, "role")), &v, e).await,
    }
}
