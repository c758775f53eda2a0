//! The REST API under `/api/v1`: handlers parse and authorise, call one service, and render.
//!
//! The OpenAPI document is generated from the handlers' annotations (utoipa) and served at
//! `/api/v1/openapi.json`; every operation also lists the problem responses it may give.

pub mod account_actions;
pub mod account_migration;
pub mod accounts;
pub mod api_clients;
pub mod api_tokens;
pub mod audit;
pub mod directory_objects;
pub mod discovery;
pub mod domains;
pub mod engine_protocol;
pub mod engines;
pub mod error;
pub mod extract;
pub mod group_replacement;
pub mod groups;
pub mod health;
pub mod jobs;
pub mod me;
pub mod notifications;
pub mod requests;
pub mod roles;
pub mod scheduler;
pub mod session;
pub mod siem;
pub mod templates;
pub mod usage;
pub mod users;
pub mod vaults;
pub mod webhooks;

use crate::state::AppState;
use error::Problem;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
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
    security(("bearer" = []), ("session" = []))
)]
pub struct ApiDoc;

/// Adds the security schemes and the problem responses. Applied to the finished document
/// (after the routers are merged), since `#[openapi(modifiers)]` runs before any path exists.
pub struct SecurityAndProblems;

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
    ("429", "Too many failed logins"),
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
        for (path, item) in openapi.paths.paths.iter_mut() {
            let is_login = path == "/api/v1/auth/login";
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                let has_body = op.request_body.is_some();
                for (status, description) in PROBLEM_STATUSES {
                    if (*status == "415" && !has_body) || (*status == "429" && !is_login) {
                        continue;
                    }

                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::T(problem(description)));
                }
            }
        }
    }
}

/// Declares the query parameters of a list endpoint: paging (`limit`, `offset`), sorting by
/// the keys matched by `$sort_pattern` (documented in the OpenAPI document), the text search
/// `q` (where the list has something to search: `q: "what it matches"`), and the list's own
/// filters. Unknown parameters are refused, naming the parameter. The short form is the
/// people lists' (users, groups, roles): `q` on the name and the `enabled` filter.
macro_rules! list_query {
    ($name:ident, $sort_pattern:literal) => {
        $crate::api::list_query!($name, $sort_pattern, q: "Part of the name (or email), case-insensitive.", {
            /// Only enabled (`true`) or disabled (`false`) objects.
            pub enabled: Option<bool>,
        });
    };
    ($name:ident, $sort_pattern:literal, q: $q_doc:literal, { $($filters:tt)* }) => {
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// Page size, 1 to 500 (default 50).
            #[param(minimum = 1, maximum = 500)]
            pub limit: Option<u32>,
            /// How many items to skip.
            #[param(minimum = 0, maximum = 9223372036854775807_i64)]
            pub offset: Option<u64>,
            /// Sort key; prefix with `-` for descending.
            #[param(pattern = $sort_pattern)]
            pub sort: Option<String>,
            #[doc = $q_doc]
            pub q: Option<String>,
            $($filters)*
        }

        $crate::api::list_query!(@paging $name);

        impl $name {
            /// The search text, trimmed; `None` when empty.
            pub fn query(&self) -> Option<String> {
                self.q
                    .as_ref()
                    .map(|q| q.trim().to_owned())
                    .filter(|q| !q.is_empty())
            }
        }
    };
    ($name:ident, $sort_pattern:literal, { $($filters:tt)* }) => {
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// Page size, 1 to 500 (default 50).
            #[param(minimum = 1, maximum = 500)]
            pub limit: Option<u32>,
            /// How many items to skip.
            #[param(minimum = 0, maximum = 9223372036854775807_i64)]
            pub offset: Option<u64>,
            /// Sort key; prefix with `-` for descending.
            #[param(pattern = $sort_pattern)]
            pub sort: Option<String>,
            $($filters)*
        }

        $crate::api::list_query!(@paging $name);
    };
    (@paging $name:ident) => {
        impl $name {
            /// The page asked for; the first allowed key sorts when none is given.
            pub fn page(
                &self,
                allowed: &[&'static str],
            ) -> Result<alm_core::paging::PageRequest, $crate::api::error::ApiError> {
                self.page_or(allowed, allowed[0])
            }

            /// The page asked for, sorted by `default` (e.g. `-created_at`: newest first) when
            /// no sort is given.
            pub fn page_or(
                &self,
                allowed: &[&'static str],
                default: &str,
            ) -> Result<alm_core::paging::PageRequest, $crate::api::error::ApiError> {
                alm_core::paging::PageRequest::parse(
                    self.limit,
                    self.offset,
                    Some(self.sort.as_deref().unwrap_or(default)),
                    allowed,
                )
                .map_err(|e| $crate::api::error::ApiError::BadRequest {
                    detail: e.to_string(),
                    errors: e.0,
                })
            }
        }
    };
}
pub(crate) use list_query;

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

/// An email address as the API takes it (surrounding spaces are ignored; stored lowercased;
/// the domain in ASCII, i.e. punycode for international names).
#[derive(ToSchema)]
#[schema(
    pattern = "^\\s*[^@\\s\\u0000-\\u001f\\u007f-\\u009f]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\s*$"
)]
pub struct EmailText(pub String);

/// A permission written `feature:right`.
#[derive(ToSchema)]
#[schema(
    pattern = "^(api-token|audit|configuration|directory-service|email-notification|engine|group|managed-account|provision-request|provision-approval|provision-template|provision-template-workflow|role|user|vault|webhook|siem|api-client):(create|read|update|delete|manage)$"
)]
pub struct PermissionText(pub String);

/// The finished OpenAPI document of `router()`'s routes.
pub fn finish_document(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    SecurityAndProblems.modify(&mut doc);
    doc
}

/// All API routes, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(me::router())
        .merge(session::router())
        .merge(users::router())
        .merge(groups::router())
        .merge(group_replacement::router())
        .merge(roles::router())
        .merge(api_tokens::router())
        .merge(api_clients::router())
        .merge(audit::router())
        .merge(domains::router())
        .merge(vaults::router())
        .merge(directory_objects::router())
        .merge(engines::router())
        .merge(jobs::router())
        .merge(engine_protocol::router())
        .merge(usage::router())
        .merge(templates::router())
        .merge(requests::router())
        .merge(accounts::router())
        .merge(account_actions::router())
        .merge(account_migration::router())
        .merge(scheduler::router())
        .merge(discovery::router())
        .merge(notifications::router())
        .merge(webhooks::router())
        .merge(siem::router())
}
