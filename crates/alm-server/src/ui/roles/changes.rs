//! A role's enable, disable and delete: the confirmation page, then the service.

use super::*;
use crate::ui::confirm::Change;
use crate::ui::form::CsrfOnly;

async fn confirm_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: RoleId,
    change: Change,
) -> Result<ConfirmPage, Response> {
    let read = signed_in.can::<perm::RoleRead>(path)?;
    let r = roles::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let name = r.name.clone();
    let (title, consequences, button, class, action) = match change {
        Change::Enable => (
            format!("Enable {name}"),
            vec!["Its holders have its permissions again, at once.".to_owned()],
            "Enable role",
            "",
            "enable",
        ),
        Change::Disable => (
            format!("Disable {name}"),
            vec![
                "Its holders lose its permissions at once (unless another role gives them)."
                    .to_owned(),
                "Who holds it is kept: enabling it again gives the permissions back.".to_owned(),
            ],
            "Disable role",
            "warning",
            "disable",
        ),
        Change::Delete => (
            format!("Delete {name}"),
            vec![
                "Its holders lose its permissions at once (unless another role gives them)."
                    .to_owned(),
                "The role is taken from its users and groups; this cannot be undone.".to_owned(),
            ],
            "Delete role",
            "warning",
            "delete",
        ),
    };
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title,
        back: (format!("/roles/{id}"), name),
        consequences,
        action: format!("/roles/{id}/{action}"),
        button: button.into(),
        button_class: class,
        csrf_token: signed_in.csrf_token(),
        errors: Vec::new(),
    })
}

pub(super) async fn confirm(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, change)): Path<(String, String)>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<RoleId>(&path, &id)?;
    let change = Change::parse(&signed_in, &path, &change, true)?;
    match change {
        Change::Delete => {
            signed_in.can::<perm::RoleDelete>(&path)?;
        }
        _ => {
            signed_in.can::<perm::RoleUpdate>(&path)?;
        }
    }
    Ok(confirm_page(&s, &signed_in, &path, id, change)
        .await?
        .show())
}

pub(super) async fn change(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, change)): Path<(String, String)>,
    Posted(f): Posted<CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<RoleId>(&path, &id)?;
    let which = Change::parse(&signed_in, &path, &change, true)?;
    let actor = &signed_in.principal.actor;
    let done = match which {
        Change::Delete => {
            let can = signed_in.can::<perm::RoleDelete>(&path)?;
            roles::delete(&s.db, s.clock.as_ref(), &can, actor, id)
                .await
                .map(|_| "/roles".to_owned())
        }
        Change::Enable | Change::Disable => {
            let can = signed_in.can::<perm::RoleUpdate>(&path)?;
            roles::set_enabled(
                &s.db,
                s.clock.as_ref(),
                &can,
                actor,
                id,
                which == Change::Enable,
            )
            .await
            .map(|_| format!("/roles/{id}?done={change}"))
        }
    };
    // The address to go on to; the error stays the service's (answered below).
    let to = done.as_ref().cloned().unwrap_or_default();
    crate::ui::confirm::answer(
        &signed_in,
        &path,
        done,
        &to,
        confirm_page(&s, &signed_in, &path, id, which),
    )
    .await
}
