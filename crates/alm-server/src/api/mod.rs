//! The REST API under `/api/v1`: handlers parse and authorise, call one service, and render.
//!
//! The OpenAPI document is generated from the handlers' annotations (utoipa) and served at
//! `/api/v1/openapi.json`; every operation also lists the problem responses it may give.

pub mod api_tokens;
pub mod audit;
pub mod error;
pub mod extract;
pub mod groups;
pub mod health;
pub mod me;
pub mod roles;
pub mod session;
pub mod users;

use crate::state::AppState;
use error::Problem;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "alm",
        description = "Account lifecycle manager for service accounts. Authenticate with \
            `Authorization: Bearer <API token>`, or with the session cookie plus `X-CSRF-Token` \
            for changes. Errors are application/problem+json.",
        license(name = "AGPL-3.0-or-later")
    ),
    components(schemas(Problem)),
    modifiers(&SecurityAndProblems),
    security(("bearer" = []), ("session" = []))
)]
pub struct ApiDoc;

struct SecurityAndProblems;

/// Statuses every operation may answer with a problem document.
const PROBLEM_STATUSES: &[(&str, &str)] = &[
    ("400", "Malformed request (bad JSON or query parameter)"),
    ("401", "Not authenticated"),
    (
        "403",
        "Authenticated but not permitted (or CSRF token missing)",
    ),
    ("404", "No such object in your scope"),
    ("409", "Conflicts with existing data or the object's state"),
    ("415", "The body is not JSON"),
    ("422", "Validation failed; `errors` names each field"),
    ("429", "Too many attempts"),
];

impl Modify for SecurityAndProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("alm API token")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::principal::SESSION_COOKIE,
            ))),
        );
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "Problem",
                        ))))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                for (status, description) in PROBLEM_STATUSES {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::T(problem(description)));
                }
            }
        }
    }
}

/// Paging and sorting parameters shared by list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// How many items to skip.
    pub offset: Option<u64>,
    /// Sort key; prefix with `-` for descending.
    pub sort: Option<String>,
    /// Part of the name (or email), case-insensitive.
    pub q: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) objects.
    pub enabled: Option<bool>,
}

impl ListQuery {
    pub fn page(
        &self,
        allowed: &[&'static str],
    ) -> Result<alm_core::paging::PageRequest, error::ApiError> {
        alm_core::paging::PageRequest::parse(self.limit, self.offset, self.sort.as_deref(), allowed)
            .map_err(|e| error::ApiError::BadRequest {
                detail: e.to_string(),
                errors: e.0,
            })
    }

    pub fn query(&self) -> Option<String> {
        self.q
            .as_ref()
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty())
    }
}

/// Declares a page type `$name` of `$item`s (concrete types keep the OpenAPI simple).
macro_rules! page_of {
    ($name:ident, $item:ty) => {
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// How many items match, over all pages.
            pub total: u64,
            pub limit: u32,
            pub offset: u64,
        }

        impl $name {
            pub fn new(
                items: Vec<$item>,
                total: u64,
                page: &alm_core::paging::PageRequest,
            ) -> Self {
                Self {
                    items,
                    total,
                    limit: page.limit,
                    offset: page.offset,
                }
            }
        }
    };
}
pub(crate) use page_of;

/// A body for enable/disable-style confirmations and simple acknowledgements.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub done: bool,
}

/// All API routes, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(me::router())
        .merge(session::router())
        .merge(users::router())
        .merge(groups::router())
        .merge(roles::router())
        .merge(api_tokens::router())
        .merge(audit::router())
}
