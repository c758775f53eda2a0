//! A group's create and edit forms.

use super::*;
use crate::ui::form_page::{FormPage, Target};

fn fields(name: &str, description: &str, enabled: Option<bool>) -> Form {
    let mut fields = vec![
        Field::new("name", "Name", Control::Text).value(name),
        Field::new("description", "Description", Control::TextArea(3))
            .hint("Optional. What the group is for.")
            .value(description),
    ];
    if let Some(enabled) = enabled {
        fields.push(
            Field::new(
                "enabled",
                "Enabled: its members hold its roles",
                Control::Checkbox,
            )
            .checked(enabled),
        );
    }
    Form::new(fields)
}

async fn form_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    editing: Option<(GroupId, &str)>,
    form: Form,
) -> FormPage {
    let (title, action, back, button) = match editing {
        None => (
            "New group".to_owned(),
            "/groups/new".to_owned(),
            "/groups".to_owned(),
            "Create group",
        ),
        Some((id, name)) => (
            format!("Edit {name}"),
            format!("/groups/{id}/edit"),
            format!("/groups/{id}"),
            "Save changes",
        ),
    };
    FormPage::new(
        s,
        signed_in,
        path,
        Target {
            title,
            action,
            back,
            button,
        },
        form,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct GroupForm {
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    enabled: Option<String>,
}

pub(super) async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::GroupCreate>(&path)?;
    Ok(render(
        StatusCode::OK,
        &form_page(&s, &signed_in, &path, None, fields("", "", Some(true))).await,
    ))
}

/// The form again with the service's field errors (nothing was changed).
fn with_errors(mut form: Form, e: ServiceError) -> Result<(StatusCode, Form), ServiceError> {
    match e {
        ServiceError::Validation(v) => {
            form.place(v.0);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, form))
        }
        ServiceError::Conflict(c) => {
            form.place(vec![c]);
            Ok((StatusCode::CONFLICT, form))
        }
        other => Err(other),
    }
}

pub(super) async fn create(
    State(s): State<AppState>,
    browser: Browser,
    Posted(f): Posted<GroupForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::GroupCreate>(&path)?;
    let enabled = crate::ui::form::ticked(&f.enabled);
    let input = CreateGroup {
        name: f.name.clone(),
        description: f.description.clone(),
        enabled,
    };
    match groups::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        input,
    )
    .await
    {
        Ok(g) => Ok(Redirect::to(&format!("/groups/{}?done=created", g.id)).into_response()),
        Err(e) => match with_errors(fields(&f.name, &f.description, Some(enabled)), e) {
            Ok((status, form)) => Ok(render(
                status,
                &form_page(&s, &signed_in, &path, None, form).await,
            )),
            Err(e) => Err(errors::service(&signed_in, &path, e)),
        },
    }
}

pub(super) async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<GroupId>(&path, &id)?;
    signed_in.can::<perm::GroupUpdate>(&path)?;
    let read = signed_in.can::<perm::GroupRead>(&path)?;
    let g = groups::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let form = fields(&g.name, &g.description, None);
    Ok(render(
        StatusCode::OK,
        &form_page(&s, &signed_in, &path, Some((id, &g.name)), form).await,
    ))
}

pub(super) async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<GroupForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<GroupId>(&path, &id)?;
    let can = signed_in.can::<perm::GroupUpdate>(&path)?;
    let input = UpdateGroup {
        name: Some(f.name.clone()),
        description: Some(f.description.clone()),
    };
    match groups::update(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
        input,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/groups/{id}?done=updated")).into_response()),
        Err(ServiceError::Refused(r)) => {
            page_with_error(
                &s,
                &signed_in,
                id,
                "details-title",
                r.to_string(),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => match with_errors(fields(&f.name, &f.description, None), e) {
            Ok((status, form)) => Ok(render(
                status,
                &form_page(&s, &signed_in, &path, Some((id, "group")), form).await,
            )),
            Err(e) => Err(errors::service(&signed_in, &path, e)),
        },
    }
}
