//! What an administrator does to a domain from its page: check that its engines can reach it
//! (the answer per engine: unreachable, TLS, credentials), sync it now (full or incremental;
//! the run's counts, or "still running"), and choose the user sync groups and the mass-disable
//! limit.

use super::*;
use crate::ui::form::CsrfOnly;

/// Asks every active engine of the domain's pool to bind now (up to the check's wait), and
/// shows the domain's page with what each found.
pub(super) async fn check(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    let can = signed_in.can::<perm::DomainRead>(&path)?;
    let page_path = format!("/domains/{id}");
    let outcome = match svc::check(&s.queue, &can, &signed_in.principal.actor, id).await {
        Ok(o) => o,
        // No pool, no engine: the rule is the check's answer, shown where the check is.
        Err(ServiceError::Refused(r)) => {
            let page = domain_page(&s, &signed_in, &page_path, id, None, None).await?;
            let page = DomainPage {
                check: Some((false, r.to_string())),
                ..page
            };
            return Ok(render(StatusCode::OK, &page));
        }
        Err(e) => return Err(errors::service(&signed_in, &path, e)),
    };
    let page = domain_page(&s, &signed_in, &page_path, id, None, Some(&outcome)).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub(super) struct SyncForm {
    csrf_token: String,
    #[serde(default)]
    mode: String,
}

/// How long the page waits for the sync before saying it is still running.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) async fn sync(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<SyncForm>,
) -> PageResult {
    use crate::services::domain_sync::SyncMode;
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    let can = signed_in.can::<perm::DomainUpdate>(&path)?;
    let mode = match f.mode.as_str() {
        "full" => SyncMode::Full,
        "incremental" => SyncMode::Incremental,
        _ => {
            return Err(errors::bad_address(
                &signed_in,
                &path,
                &alm_core::FieldError::new("mode", "one-of", "must be full or incremental").into(),
            ))
        }
    };
    let fail = |e| errors::service(&signed_in, &path, e);
    let job = domain_sync::request(
        &s.queue,
        &can,
        &signed_in.principal.actor,
        id,
        Some(mode),
        s.config.scheduler.full_sync_every(),
    )
    .await
    .map_err(fail)?;
    let job = s
        .queue
        .wait(&[job.id], SYNC_WAIT)
        .await
        .map_err(fail)?
        .pop()
        .unwrap_or(job);
    let notice = match domain_sync::run_of(&s.db, &job).await.map_err(fail)? {
        Some(run) if run.outcome == "succeeded" => format!(
            "The {} sync finished: {} added, {} updated, {} removed.",
            run.mode, run.added, run.updated, run.removed
        ),
        Some(run) => format!(
            "The {} sync failed and changed nothing: {}",
            run.mode,
            run.error.as_deref().unwrap_or("no reason given")
        ),
        None if job.status == alm_core::job_kind::JobStatus::Failed => format!(
            "The sync could not run: {}",
            job.error.as_deref().unwrap_or("no reason given")
        ),
        None => {
            "The sync is still running; its run appears below when it finishes (reload the page)."
                .into()
        }
    };
    let page_path = format!("/domains/{id}");
    let page = domain_page(&s, &signed_in, &page_path, id, Some(notice), None).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub(super) struct UserSyncForm {
    csrf_token: String,
    #[serde(default)]
    groups: String,
    #[serde(default)]
    max_disable_percent: String,
}

fn user_sync_fields(groups: &str, percent: &str) -> Form {
    Form::new(vec![
        Field::new("groups", "Groups whose members become alm users", Control::TextArea(5))
            .hint("One group name (sAMAccountName) or DN per line, as the last sync found them; members of their child groups count too. Empty: user sync is off.")
            .value(groups)
            .takes("group_guids"),
        Field::new("max_disable_percent", "Mass-disable limit (%)", Control::Text)
            .hint("A sync that would disable more than this share of the synced users stops and alerts instead. 0 to 100.")
            .value(percent),
    ])
}

async fn user_sync_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: DomainId,
    form: Form,
) -> Result<FormPage, axum::response::Response> {
    let read = signed_in.can::<perm::DomainRead>(path)?;
    let d = svc::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let target = Target {
        title: format!("User sync of {}", d.record.name),
        action: format!("/domains/{id}/user-sync"),
        back: format!("/domains/{id}"),
        button: "Save user sync",
    };
    Ok(FormPage::new(s, signed_in, path, target, form).await)
}

pub(super) async fn user_sync_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    signed_in.can::<perm::DomainUpdate>(&path)?;
    let read = signed_in.can::<perm::DomainRead>(&path)?;
    let fail = |e| errors::service(&signed_in, &path, e);
    let config = user_sync::settings(&s.db, &read, id).await.map_err(fail)?;
    let (groups, percent) = match config {
        Some(c) => (
            user_sync::group_names(&s.db, &read, id, &c.group_guids)
                .await
                .map_err(fail)?
                .join("\n"),
            c.max_disable_percent,
        ),
        None => (String::new(), user_sync::DEFAULT_MAX_DISABLE_PERCENT),
    };
    let form = user_sync_fields(&groups, &percent.to_string());
    Ok(render(
        StatusCode::OK,
        &user_sync_page(&s, &signed_in, &path, id, form).await?,
    ))
}

pub(super) async fn set_user_sync(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<UserSyncForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    let can = signed_in.can::<perm::DomainUpdate>(&path)?;
    let read = signed_in.can::<perm::DomainRead>(&path)?;
    let lines = crate::ui::form::lines(&f.groups);
    // Checked here as well as in the service, so both fields' errors show at once.
    let percent = f
        .max_disable_percent
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| {
            alm_core::FieldError::new(
                "max_disable_percent",
                "range",
                "must be a whole number from 0 to 100",
            )
        });
    let saved = match (
        user_sync::groups_named(&s.db, &read, id, "groups", &lines).await,
        percent,
    ) {
        (Ok(group_guids), Ok(max_disable_percent)) => {
            user_sync::configure(
                &s.db,
                s.clock.as_ref(),
                &can,
                &signed_in.principal.actor,
                id,
                alm_store::directory_sync::UserSyncConfig {
                    group_guids,
                    max_disable_percent,
                },
            )
            .await
        }
        (Err(e), Ok(_)) => Err(e),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(ServiceError::Validation(mut v)), Err(e)) => {
            v.push(e);
            Err(ServiceError::Validation(v))
        }
        (Err(e), Err(_)) => Err(e),
    };
    match saved {
        Ok(_) => Ok(Redirect::to(&format!("/domains/{id}?done=user-sync")).into_response()),
        Err(ServiceError::Validation(v)) => {
            let mut form = user_sync_fields(&f.groups, &f.max_disable_percent);
            form.place(v.0);
            let page = user_sync_page(&s, &signed_in, &path, id, form).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}
