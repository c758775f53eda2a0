//! The offer of SPEC §2.2 on a disabled group's page: the templates that still name it, and
//! replacing it by another group in all of them at once (`services::group_replacement`: new
//! versions published where requests use it, drafts edited; all templates or none).

use super::*;

#[derive(Deserialize)]
pub(super) struct ReplaceForm {
    csrf_token: String,
    #[serde(default)]
    group: String,
}

pub(super) async fn replace(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<ReplaceForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<GroupId>(&path, &id)?;
    let can = signed_in.can::<perm::TemplateUpdate>(&path)?;
    let refused = |message: String, status| {
        page_with_error(&s, &signed_in, id, "replacement", message, status)
    };
    let new = match groups::enabled_by_name(&s.db, "replacement", &f.group).await {
        Ok(g) => g,
        Err(ServiceError::Validation(v)) => {
            return refused(v.to_string(), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => return Err(errors::service(&signed_in, &path, e)),
    };
    match crate::services::group_replacement::replace(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
        new,
    )
    .await
    {
        Ok(done) => {
            let page_path = format!("/groups/{id}");
            let mut page = loaded(&s, &signed_in, &page_path, id).await?;
            page.replaced = done
                .into_iter()
                .map(|r| {
                    let what = match r.action {
                        "published-new-version" => format!("version {} published", r.version),
                        "edited-draft" => format!("draft version {} changed", r.version),
                        _ => format!("new draft version {}", r.version),
                    };
                    match r.note {
                        Some(note) => format!("{}: {what} ({note})", r.name),
                        None => format!("{}: {what}", r.name),
                    }
                })
                .collect();
            Ok(render(StatusCode::OK, &page))
        }
        Err(ServiceError::Validation(v)) => {
            refused(v.to_string(), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ServiceError::Refused(r)) => refused(r.to_string(), StatusCode::CONFLICT).await,
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}
