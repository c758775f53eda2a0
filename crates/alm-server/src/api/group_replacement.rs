//! `/api/v1/groups/{id}/template-uses` and `…/replace-in-templates`: the replacement offer
//! of SPEC §2.2 for a group that workflow templates name (see `services::group_replacement`).

use super::error::ApiResult;
use super::extract::{parse_id, ApiJson};
use crate::auth::principal::Authenticated;
use crate::services::group_replacement::{self as svc, Replaced, TemplateUse, VersionUse};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::GroupId;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionUseView {
    pub version: i64,
    /// `draft`, `needs-approval` or `published`.
    pub state: String,
    /// Where the version names the group: `audience_groups`, `steps[0].groups`,
    /// `gmsa.password_reader_groups`.
    pub fields: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateUseView {
    pub template_id: Uuid,
    pub template_name: String,
    pub template_state: String,
    pub versions: Vec<VersionUseView>,
}

impl From<TemplateUse> for TemplateUseView {
    fn from(u: TemplateUse) -> Self {
        Self {
            template_id: u.template_id,
            template_name: u.name,
            template_state: u.state,
            versions: u
                .versions
                .into_iter()
                .map(|v: VersionUse| VersionUseView {
                    version: v.version,
                    state: v.state,
                    fields: v.fields,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceBody {
    /// The group to name instead (enabled, not the same).
    pub replacement_group_id: GroupId,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplacedView {
    pub template_id: Uuid,
    pub template_name: String,
    /// `published-new-version`, `edited-draft` or `new-draft-version`.
    pub action: String,
    pub version: i64,
    /// What is left to do, if anything.
    pub note: Option<String>,
}

impl From<Replaced> for ReplacedView {
    fn from(r: Replaced) -> Self {
        Self {
            template_id: r.template_id,
            template_name: r.name,
            action: r.action.into(),
            version: r.version,
            note: r.note,
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(template_uses))
        .routes(routes!(replace_in_templates))
}

const ID: &str = "Group id";

super::list_query!(TemplateUseQuery, "^-?template_name$", q: "Part of the template's name, case-insensitive.", {});
super::page_of!(TemplateUsePage, TemplateUseView);

/// The workflow templates that name the group (audience, approvers, gMSA password readers).
#[utoipa::path(get, path = "/api/v1/groups/{id}/template-uses", tag = "groups", params(("id" = String, Path, description = ID), TemplateUseQuery),
    responses((status = 200, body = TemplateUsePage)))]
async fn template_uses(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    super::extract::ApiQuery(q): super::extract::ApiQuery<TemplateUseQuery>,
) -> ApiResult<Json<TemplateUsePage>> {
    let can = auth.can::<perm::GroupRead>()?;
    let id: GroupId = parse_id(&id, "group")?;
    let page = q.page(&["template_name"])?;
    let query = q.query();
    let uses: Vec<TemplateUse> = svc::uses_of(&s.db, &can, id)
        .await?
        .into_iter()
        .filter(|u| alm_core::paging::matches(query.as_deref(), &[&u.name]))
        .collect();
    let (items, total) = page.slice(uses, |_, a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.template_id.cmp(&b.template_id))
    });
    Ok(Json(TemplateUsePage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Replace the group by another in every template that names it: drafts are edited, the
/// published version is followed by a new version published at once (needs
/// `provision-template-workflow:manage`); all templates change, or none.
#[utoipa::path(post, path = "/api/v1/groups/{id}/replace-in-templates", tag = "groups", params(("id" = String, Path, description = ID)),
    request_body = ReplaceBody, responses((status = 200, body = Vec<ReplacedView>)))]
async fn replace_in_templates(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReplaceBody>,
) -> ApiResult<Json<Vec<ReplacedView>>> {
    let can = auth.can::<perm::TemplateUpdate>()?;
    let id: GroupId = parse_id(&id, "group")?;
    let done = svc::replace(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        body.replacement_group_id,
    )
    .await?;
    Ok(Json(done.into_iter().map(Into::into).collect()))
}
