//! Server-rendered pages for people in a browser (SPEC §10): askama templates from
//! `crates/alm-server/templates`, filled by thin handlers that authorise like the API and call
//! the same services. Every page works without JavaScript; `assets/alm.js` only improves it.
//!
//! Here: the shared page frame ([`Chrome`]: navigation from the caller's permissions, the
//! signed-in user, asset URLs) and rendering. Pages live in one module each.

// A page that cannot go on answers with the response to send (a redirect, an error page):
// one per request, so the size of `Err(Response)` does not matter.
#![allow(clippy::result_large_err)]

pub mod account_actions;
pub mod account_list;
pub mod accounts;
pub mod api_clients;
pub mod approvals;
pub mod assets;
pub mod audit;
pub mod browser;
pub mod confirm;
pub mod dashboard;
pub mod dependencies;
pub mod discovery;
pub mod domains;
pub mod email;
pub mod engine_checks;
pub mod engines;
pub mod errors;
pub mod form;
pub mod form_page;
pub mod groups;
pub mod home;
pub mod inbox;
pub mod migration;
pub mod password;
pub mod permission_grid;
pub mod request_form;
pub mod requests;
pub mod roles;
pub mod siem;
pub mod sign_in;
pub mod table;
pub mod templates;
pub mod tokens;
pub mod users;
pub mod vaults;
pub mod webhooks;

use alm_core::permissions::{perm, Feature, Permission, PermissionMarker, Right};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use browser::SignedIn;

/// The routes of every page.
pub fn router() -> axum::Router<crate::state::AppState> {
    axum::Router::new()
        .merge(account_actions::router())
        .merge(account_list::router())
        .merge(accounts::router())
        .merge(approvals::router())
        .merge(assets::router())
        .merge(dashboard::router())
        .merge(discovery::router())
        .merge(engines::router())
        .merge(groups::router())
        .merge(home::router())
        .merge(inbox::router())
        .merge(password::router())
        .merge(request_form::router())
        .merge(requests::router())
        .merge(roles::router())
        .merge(sign_in::router())
        .merge(tokens::router())
        .merge(api_clients::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(domains::router())
        .merge(vaults::router())
        .merge(templates::router())
        .merge(email::router())
        .merge(migration::router())
        .merge(webhooks::router())
        .merge(siem::router())
}

/// One entry of a navigation list (a section in the main navigation, a page in its section's).
#[derive(Debug, Clone)]
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
    /// A count shown beside the label (the inbox's unread entries), when above zero.
    pub count: i64,
}

/// The signed-in user as the page frame shows them.
#[derive(Debug, Clone)]
pub struct ChromeUser {
    pub name: String,
    /// For the forms of the frame (sign out) and of the page.
    pub csrf_token: String,
    /// The sections the user may open (SPEC §10), each linking to its first page they may use.
    pub nav: Vec<NavItem>,
    /// The pages of the current section, when it has more than one for this user.
    pub section_nav: Vec<NavItem>,
    /// The user menu links to their API tokens when they may read them.
    pub tokens: bool,
}

/// What every page's frame needs (the layout template reads it).
#[derive(Debug, Clone)]
pub struct Chrome {
    pub css: &'static str,
    pub js: &'static str,
    pub icon: &'static str,
    pub version: &'static str,
    /// `narrow` for single forms (sign in), empty for the full width.
    pub width: &'static str,
    /// The page shows an error summary (the title then starts with "Error:").
    pub has_errors: bool,
    pub user: Option<ChromeUser>,
    user_id: Option<alm_core::UserId>,
}

/// A page of the navigation: label, link, and the permission it needs (none for the inbox,
/// which every signed-in user has). Shown only to a user who holds the permission; the page
/// checks again.
type NavPage = (&'static str, &'static str, Option<Permission>);

const fn needs(feature: Feature, right: Right) -> Option<Permission> {
    Some(Permission { feature, right })
}

/// The main navigation of SPEC §10: sections of pages. A section is listed when the user may
/// open one of its pages and links to the first of those; inside it, its pages are listed as
/// a second row. Entries are added here as their pages are built, so the navigation never
/// links to a page that is not there.
const NAVIGATION: &[(&str, &[NavPage])] = &[
    (
        "Home",
        &[("My accounts", "/", Some(perm::AccountRead::PERMISSION))],
    ),
    (
        "Dashboard",
        &[(
            "Dashboard",
            "/dashboard",
            needs(Feature::ManagedAccount, Right::Manage),
        )],
    ),
    (
        "Accounts",
        &[
            ("Requests", "/requests", Some(perm::RequestRead::PERMISSION)),
            (
                "Approvals",
                "/approvals",
                Some(perm::ApprovalRead::PERMISSION),
            ),
            (
                "Managed accounts",
                "/accounts",
                needs(Feature::ManagedAccount, Right::Manage),
            ),
        ],
    ),
    (
        "Personnel",
        &[
            ("Users", "/users", Some(perm::UserRead::PERMISSION)),
            ("Groups", "/groups", Some(perm::GroupRead::PERMISSION)),
            ("Roles", "/roles", Some(perm::RoleRead::PERMISSION)),
        ],
    ),
    (
        "Administration",
        &[
            (
                "Workflow templates",
                "/templates",
                Some(perm::TemplateCreate::PERMISSION),
            ),
            (
                "Account discovery",
                "/discovery",
                needs(Feature::ManagedAccount, Right::Manage),
            ),
            (
                "Engines and pools",
                "/engines",
                Some(perm::EngineRead::PERMISSION),
            ),
            ("Job queue", "/jobs", Some(perm::EngineRead::PERMISSION)),
            (
                "Email templates",
                "/email-templates",
                Some(perm::NotificationRead::PERMISSION),
            ),
            (
                "Email outbox",
                "/outbox",
                Some(perm::NotificationRead::PERMISSION),
            ),
            ("Webhooks", "/webhooks", Some(perm::WebhookRead::PERMISSION)),
            ("Usage", "/usage", Some(perm::ConfigurationRead::PERMISSION)),
        ],
    ),
    (
        "Integrations",
        &[
            ("Domains", "/domains", Some(perm::DomainRead::PERMISSION)),
            ("Vaults", "/vaults", Some(perm::VaultRead::PERMISSION)),
            ("SIEM", "/siem", Some(perm::SiemRead::PERMISSION)),
            (
                "API clients",
                "/api-clients",
                Some(perm::ApiClientRead::PERMISSION),
            ),
        ],
    ),
    (
        "Audit",
        &[
            ("Audit log", "/audit", Some(perm::AuditRead::PERMISSION)),
            (
                "Engine logs",
                "/engine-logs",
                Some(perm::EngineRead::PERMISSION),
            ),
        ],
    ),
    ("Inbox", &[("Inbox", "/inbox", None)]),
];

/// Whether the page at `path` belongs to the navigation page `href` (its own pages below it;
/// an account's pages belong to Home, or to Managed accounts for those who have that entry:
/// the longest match wins, see [`Chrome::new`]).
fn belongs_to(path: &str, href: &str) -> bool {
    match href {
        "/" => path == "/" || path.starts_with("/accounts/"),
        _ => path == href || path.starts_with(&format!("{href}/")),
    }
}

/// The navigation for a user holding `has` at `path`: the sections, and the current section's
/// pages when it has more than one for them.
fn navigation(has: impl Fn(Permission) -> bool, path: &str) -> (Vec<NavItem>, Vec<NavItem>) {
    let visible: Vec<(&str, Vec<&NavPage>)> = NAVIGATION
        .iter()
        .map(|(section, pages)| {
            let pages = pages
                .iter()
                .filter(|(_, _, needs)| needs.is_none_or(&has))
                .collect::<Vec<_>>();
            (*section, pages)
        })
        .filter(|(_, pages)| !pages.is_empty())
        .collect();
    // The current page: the most specific entry the path belongs to.
    let current = visible
        .iter()
        .flat_map(|(_, pages)| pages.iter())
        .filter(|(_, href, _)| belongs_to(path, href))
        .max_by_key(|(_, href, _)| href.len())
        .map(|(_, href, _)| *href);
    let mut sub = Vec::new();
    let sections = visible
        .iter()
        .map(|(section, pages)| {
            let here = pages.iter().any(|(_, href, _)| Some(*href) == current);
            if here && pages.len() > 1 {
                sub = pages
                    .iter()
                    .map(|(label, href, _)| NavItem {
                        label,
                        href,
                        current: Some(*href) == current,
                        count: 0,
                    })
                    .collect();
            }
            NavItem {
                label: section,
                href: pages[0].1,
                current: here,
                count: 0,
            }
        })
        .collect();
    (sections, sub)
}

impl Chrome {
    /// The frame for a page at `path`, for the signed-in user if any.
    pub fn new(signed_in: Option<&SignedIn>, path: &str) -> Self {
        let user = signed_in.map(|s| {
            // A one-time password opens nothing but its change: no links to pages that would
            // send the user back.
            let (nav, section_nav) = if s.principal.password_must_change {
                (Vec::new(), Vec::new())
            } else {
                navigation(|p| s.principal.permissions.has(p), path)
            };
            ChromeUser {
                name: s
                    .principal
                    .actor
                    .name
                    .clone()
                    .or_else(|| s.principal.actor.email.clone())
                    .unwrap_or_default(),
                csrf_token: s.csrf_token(),
                tokens: s.may::<perm::ApiTokenRead>() && !s.principal.password_must_change,
                nav,
                section_nav,
            }
        });
        Self {
            css: assets::url("alm.css"),
            js: assets::url("alm.js"),
            icon: assets::url("alm.svg"),
            version: env!("CARGO_PKG_VERSION"),
            width: "",
            has_errors: false,
            user,
            user_id: signed_in.map(|s| s.principal.user_id),
        }
    }

    /// The frame with the live counts of the navigation (the inbox's unread entries).
    pub async fn with_counts(mut self, state: &crate::state::AppState) -> Self {
        if let Some(user) = &mut self.user {
            if let Some(id) = self.user_id {
                match crate::services::notifications::unread_total(&state.db, id).await {
                    Ok(n) => {
                        for item in &mut user.nav {
                            if item.href == "/inbox" {
                                item.count = n;
                            }
                        }
                    }
                    // A count is not worth failing a page for; the log says why it is missing.
                    Err(e) => {
                        tracing::warn!(error = %e, "the inbox's unread count could not be read")
                    }
                }
            }
        }
        self
    }

    pub fn narrow(mut self) -> Self {
        self.width = "narrow";
        self
    }

    pub fn with_errors(mut self, has_errors: bool) -> Self {
        self.has_errors = has_errors;
        self
    }
}

/// An instant as the `datetime` of a `<time>` element (RFC 3339, UTC): the script shows it in
/// the browser's local time.
pub fn iso(at: time::OffsetDateTime) -> String {
    alm_core::rfc3339::format(at)
}

/// An instant as the text of a `<time>` element, readable without the script.
pub fn utc(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
}

/// A state's wire name (`queued-for-provisioning`) as a person reads it
/// ("Queued for provisioning").
pub fn label(state: &str) -> String {
    let mut text = state.replace('-', " ");
    if let Some(first) = text.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    text
}

/// A page's result: the page, or the response that replaces it (a sign-in redirect, an
/// error page); axum answers either.
pub type PageResult = Result<Response, Response>;

/// One error of a form, for the error summary (a link to `#field`) and the field itself.
#[derive(Debug, Clone)]
pub struct FormError {
    /// The id of the field's input (the summary links to it).
    pub field: String,
    pub message: String,
}

/// Renders a page; a template that fails to render is a bug, answered 500 without details.
/// Pages are never cached: they show one person's data (and once, a new token's secret).
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (
            status,
            [(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            )],
            Html(html),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(
                    "<!doctype html><title>Error · alm</title><h1>Sorry, something went wrong</h1>",
                ),
            )
                .into_response()
        }
    }
}

/// Escapes text for HTML element content and attribute values (for the few pages built
/// without a template: the OIDC outcome pages).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small self-contained page; `body_html` must already be escaped.
pub fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · alm</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"stylesheet\" href=\"{css}\"><link rel=\"icon\" type=\"image/svg+xml\" href=\"{icon}\"></head>\
         <body><main id=\"main\" class=\"narrow\"><h1>{t}</h1>{body_html}</main></body></html>",
        t = escape(title),
        css = assets::url("alm.css"),
        icon = assets::url("alm.svg"),
    );
    (status, Html(body)).into_response()
}

/// A page with one message and a way to start again.
pub fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        title,
        &format!(
            "<p>{}</p><p><a href=\"/\">Back to alm</a></p>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(items: &[NavItem]) -> Vec<(&str, &str, bool)> {
        items.iter().map(|i| (i.label, i.href, i.current)).collect()
    }

    #[test]
    fn sections_link_to_their_first_page_the_user_may_open() {
        // An approver without requests: Accounts opens Approvals, and is the only page there.
        let approver = |p: Permission| {
            p == perm::ApprovalRead::PERMISSION || p == perm::AccountRead::PERMISSION
        };
        let (sections, sub) = navigation(approver, "/approvals/123");
        assert_eq!(
            labels(&sections),
            [
                ("Home", "/", false),
                ("Accounts", "/approvals", true),
                ("Inbox", "/inbox", false)
            ]
        );
        assert!(sub.is_empty(), "one page: no second row");
    }

    #[test]
    fn the_current_section_lists_its_pages_and_the_longest_match_wins() {
        let (sections, sub) = navigation(|_| true, "/accounts/42/renew");
        let current: Vec<_> = sections.iter().filter(|s| s.current).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].label, "Accounts");
        assert_eq!(
            labels(&sub),
            [
                ("Requests", "/requests", false),
                ("Approvals", "/approvals", false),
                ("Managed accounts", "/accounts", true)
            ]
        );
        let (_, sub) = navigation(|_| true, "/");
        assert!(sub.is_empty());
    }

    #[test]
    fn a_page_belongs_to_its_navigation_entry() {
        assert!(belongs_to("/", "/"));
        assert!(belongs_to("/accounts/1/renew", "/"));
        assert!(!belongs_to("/requests", "/"));
        assert!(belongs_to("/requests/new/abc", "/requests"));
        assert!(!belongs_to("/requestsx", "/requests"));
    }

    #[test]
    fn labels_read_as_words() {
        assert_eq!(label("queued-for-provisioning"), "Queued for provisioning");
        assert_eq!(label("active"), "Active");
        assert_eq!(label(""), "");
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
