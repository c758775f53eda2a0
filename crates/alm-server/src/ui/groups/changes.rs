//! A group's enable, disable and delete: the confirmation page, then the service.

use super::*;
use crate::ui::confirm::Change;
use crate::ui::form::CsrfOnly;

async fn confirm_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: GroupId,
    change: Change,
) -> Result<ConfirmPage, Response> {
    let read = signed_in.can::<perm::GroupRead>(path)?;
    let g = groups::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let name = g.name.clone();
    let members = format!(
        "{} member{}",
        g.member_count,
        if g.member_count == 1 { "" } else { "s" }
    );
    let (title, consequences, button, class, action) = match change {
        Change::Enable => (
            format!("Enable {name}"),
            vec![format!("Its {members} hold its roles again."), "Templates that name it can use it again.".to_owned()],
            "Enable group",
            "",
            "enable",
        ),
        Change::Disable => (
            format!("Disable {name}"),
            vec![
                format!("Its {members} no longer hold its roles (unless they have them otherwise)."),
                "Templates that name it as audience, owner or approver stop using it; replace it there.".to_owned(),
                "Refused when it is the last enabled owner of a managed account.".to_owned(),
            ],
            "Disable group",
            "warning",
            "disable",
        ),
        Change::Delete => (
            format!("Delete {name}"),
            vec![
                format!("The group and its membership of {members} are removed; the users stay."),
                "Refused while a template or a managed account still names it.".to_owned(),
                "This cannot be undone; the audit log keeps its history.".to_owned(),
            ],
            "Delete group",
            "warning",
            "delete",
        ),
    };
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title,
        back: (format!("/groups/{id}"), name),
        consequences,
        action: format!("/groups/{id}/{action}"),
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
    let id = signed_in.id::<GroupId>(&path, &id)?;
    let change = Change::parse(&signed_in, &path, &change, true)?;
    match change {
        Change::Delete => {
            signed_in.can::<perm::GroupDelete>(&path)?;
        }
        _ => {
            signed_in.can::<perm::GroupUpdate>(&path)?;
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
    let id = signed_in.id::<GroupId>(&path, &id)?;
    let which = Change::parse(&signed_in, &path, &change, true)?;
    let actor = &signed_in.principal.actor;
    let done = match which {
        Change::Delete => {
            let can = signed_in.can::<perm::GroupDelete>(&path)?;
            groups::delete(&s.db, s.clock.as_ref(), &can, actor, id)
                .await
                .map(|_| "/groups?done=deleted".to_owned())
        }
        Change::Enable | Change::Disable => {
            let can = signed_in.can::<perm::GroupUpdate>(&path)?;
            groups::set_enabled(
                &s.db,
                s.clock.as_ref(),
                &can,
                actor,
                id,
                which == Change::Enable,
            )
            .await
            .map(|_| format!("/groups/{id}?done={change}"))
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
