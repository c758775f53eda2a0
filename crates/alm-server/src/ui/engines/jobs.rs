//! The job queue (SPEC §5): every job with its kind, what it is about, state, attempts and
//! last error, newest first, filtered by state — what an administrator reads when work waits.

use super::*;
use alm_core::job_kind::JobStatus;

const STATES: [(&str, &str); 4] = [
    ("queued", "Queued"),
    ("leased", "Running"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
];

struct JobRow {
    created: (String, String),
    kind: String,
    subject: String,
    status: &'static str,
    status_class: &'static str,
    attempts: String,
    error: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    chrome: Chrome,
    title: &'static str,
    table: Table,
    states: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<JobRow>,
}

fn status_of(status: JobStatus) -> (&'static str, &'static str) {
    match status {
        JobStatus::Queued => ("Queued", "renewing"),
        JobStatus::Leased => ("Running", "renewing"),
        JobStatus::Succeeded => ("Succeeded", "success"),
        JobStatus::Failed => ("Failed", "failure"),
    }
}

pub(super) async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::EngineRead>(&path)?;
    let table = Table::parse("/jobs", &q, alm_store::jobs::SORT_KEYS, "-created_at")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let status = match table.state.as_str() {
        "" => None,
        other => Some(JobStatus::parse(other).ok_or_else(|| {
            errors::bad_address(
                &signed_in,
                &path,
                &alm_core::FieldError::new(
                    "state",
                    "one-of",
                    "must be queued, leased, succeeded or failed",
                )
                .into(),
            )
        })?),
    };
    let (found, total) = s
        .queue
        .list(&can, status, &table.page)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let rows: Vec<JobRow> = found
        .iter()
        .map(|j| {
            let (status, status_class) = status_of(j.status);
            JobRow {
                created: (iso(j.created_at), utc(j.created_at)),
                kind: j.kind.to_string(),
                subject: format!("{} {}", j.subject_type, j.subject_id),
                status,
                status_class,
                attempts: if j.retry_until_done {
                    j.attempts.to_string()
                } else {
                    format!("{} of {}", j.attempts, j.max_attempts)
                },
                error: j.error.clone().unwrap_or_default(),
            }
        })
        .collect();
    let page = JobsPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Job queue",
        states: STATES
            .iter()
            .map(|(v, l)| (*v, *l, *v == table.state))
            .collect(),
        table: table.with_counts(total, rows.len()),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}
