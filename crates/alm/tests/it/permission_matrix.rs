//! Every `/api/v1` route × seven principals → the status SPEC §2.3 implies, written out by
//! hand (not derived from the router). A route missing from the table fails the test.
//!
//! Principals: anonymous; Account Owner only (every user, through Everyone); Requester;
//! Approver; System Administrator; a custom role with only `audit:read`; a disabled user
//! (who was a System Administrator).

use crate::support::{on_both_backends, Api, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const PRINCIPALS: [&str; 7] = [
    "anonymous",
    "owner",
    "requester",
    "approver",
    "auditor",
    "disabled",
    "admin",
];

/// (method, path, body, expected status per principal in PRINCIPALS order).
/// The admin goes last so changes it makes do not affect the others' rows.
#[rustfmt::skip]
pub(crate) fn table() -> Vec<(Method, &'static str, Option<Value>, [u16; 7])> {
    use Method as M;
    let body = |v: Value| Some(v);
    let domain = json!({"name": "D {unique}", "url": "ldaps://127.0.0.1:1", "bind_identity": "svc@corp.example.test",
                        "bind_password": "x", "base_dn": "DC=corp,DC=example,DC=test"});
    //                                                                  anon owner req  appr aud  dis  admin
    vec![
        (M::GET, "/api/v1/me", None,                                       [401, 200, 200, 200, 200, 401, 200]),
        (M::GET, "/api/v1/me/export", None,                                [401, 200, 200, 200, 200, 401, 200]),
        // Users made through the API have no password (409); the admin's current one is wrong (422).
        (M::POST, "/api/v1/me/password", body(json!({"current_password": "wrong", "new_password": "a new password, long enough"})),
                                                                           [401, 409, 409, 409, 409, 401, 422]),
        (M::POST, "/api/v1/auth/login", body(json!({"email": "{unique}@example.test", "password": "wrong"})),
                                                                           [401, 401, 401, 401, 401, 401, 401]),
        (M::POST, "/api/v1/auth/logout", None,                             [401, 409, 409, 409, 409, 401, 409]),
        (M::GET, "/api/v1/openapi.json", None,                             [200, 200, 200, 200, 200, 200, 200]),
        (M::GET, "/api/v1/users", None,                                    [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/users", body(json!({"display_name": "New", "emails": ["{unique}@example.test"]})),
                                                                           [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/users/{user}", None,                             [401, 403, 403, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/users/{user}", body(json!({"display_name": "Renamed"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/users/{user}/enable", None,                     [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/users/{user}/disable", None,                    [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/users/{user}/export", None,                      [401, 403, 403, 403, 403, 401, 200]),
        // The admin passes the permission check; the fixture user is enabled, so 409 (privacy.rs
        // forgets a disabled one).
        (M::POST, "/api/v1/users/{user}/forget", None,                     [401, 403, 403, 403, 403, 401, 409]),
        (M::GET, "/api/v1/groups", None,                                   [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/groups", body(json!({"name": "G {unique}"})),   [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/groups/{group}", None,                           [401, 403, 403, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/groups/{group}", body(json!({"description": "changed"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/groups/{group}", None,                        [401, 403, 403, 403, 403, 401, 204]),
        (M::POST, "/api/v1/groups/{group}/enable", None,                   [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/groups/{group}/disable", None,                  [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/groups/{group}/template-uses", None,             [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/groups/{group}/replace-in-templates", body(json!({"replacement_group_id": "{group2}"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/groups/{group}/members", None,                   [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/groups/{group}/members", body(json!({"user_id": "{user}"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/groups/{group}/members/{member}", None,       [401, 403, 403, 403, 403, 401, 200]),
        (M::PUT, "/api/v1/groups/{group}/roles", body(json!({"role_ids": ["{role}"]})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/roles", None,                                    [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/roles", body(json!({"name": "R {unique}", "permissions": ["audit:read"]})),
                                                                           [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/roles/{role}", None,                             [401, 403, 403, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/roles/{role}", body(json!({"description": "changed"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/roles/{role}", None,                          [401, 403, 403, 403, 403, 401, 204]),
        (M::POST, "/api/v1/roles/{role}/enable", None,                     [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/roles/{role}/disable", None,                    [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/roles/{role}/members", None,                     [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/roles/{role}/members", body(json!({"user_id": "{user}"})),
                                                                           [401, 403, 403, 403, 403, 401, 204]),
        (M::DELETE, "/api/v1/roles/{role}/members/{member}", None,         [401, 403, 403, 403, 403, 401, 204]),
        (M::GET, "/api/v1/api-tokens", None,                               [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/api-tokens", body(json!({"name": "t"})),        [401, 403, 403, 403, 403, 401, 201]),
        (M::DELETE, "/api/v1/api-tokens/{token}", None,                    [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/api-clients", None,                              [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/api-clients", body(json!({"name": "C {unique}", "role_id": "{role}"})),
                                                                           [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/api-clients/{client}", None,                     [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/api-clients/{client}", None,                  [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/audit", None,                                    [401, 403, 403, 403, 200, 401, 200]),
        (M::GET, "/api/v1/audit/export", None,                             [401, 403, 403, 403, 200, 401, 200]),
        (M::POST, "/api/v1/audit/verify", None,                            [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/domains", None,                                  [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/domains", body(domain),                         [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/domains/{domain}", None,                         [401, 403, 403, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/domains/{domain}", body(json!({"bind_identity": "other@corp.example.test", "bind_password": "other-password"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        // The fixture account and request are on the fixture domain: refused past authorisation.
        (M::DELETE, "/api/v1/domains/{domain}", None,                      [401, 403, 403, 403, 403, 401, 409]),
        (M::POST, "/api/v1/domains/{domain}/check", None,                  [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/domains/{domain}/sync", None,                   [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/domains/{domain}/sync-runs", None,               [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/domains/{domain}/objects", None,                 [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/domains/{domain}/user-sync", None,               [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/vaults", None,                                   [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/vaults", body(json!({"name": "V {unique}", "kind": "openbao", "address": "http://127.0.0.1:1", "credential": "x"})),
                                                                           [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/vaults/{vault}", None,                           [401, 403, 403, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/vaults/{vault}", body(json!({"mount": "kv"})), [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/vaults/{vault}", None,                        [401, 403, 403, 403, 403, 401, 204]),
        (M::POST, "/api/v1/vaults/{vault}/check", None,                    [401, 403, 403, 403, 403, 401, 200]),
        (M::PUT, "/api/v1/domains/{domain}/user-sync", body(json!({"group_guids": []})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/domains/{domain}/calibration", None,             [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/domains/{domain}/attributes", None,              [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/vaults/{vault}/calibration", None,               [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/vaults/{vault}/sync", None,                     [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/engine-pools", None,                             [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/engine-pools", body(json!({"name": "P {unique}"})),
                                                                           [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/engine-pools/{pool}", None,                      [401, 403, 403, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/engine-pools/{pool}", body(json!({"description": "changed"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/engine-pools/{pool}", None,                   [401, 403, 403, 403, 403, 401, 204]),
        (M::POST, "/api/v1/engine-activation-tokens", None,                [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/engines", None,                                  [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/engines/{engine}", None,                         [401, 403, 403, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/engines/{engine}", body(json!({"pool_id": "{pool}", "active": true})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/engines/{engine}", None,                      [401, 403, 403, 403, 403, 401, 204]),
        (M::GET, "/api/v1/engines/{engine}/logs", None,                    [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/usage", None,                                    [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/jobs", None,                                     [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/jobs/{job}", None,                               [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/templates", None,                                [401, 403, 200, 403, 403, 401, 200]),
        (M::POST, "/api/v1/templates", body(json!({"name": "T {unique}", "definition": "{definition}"})),
                                                                           [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/templates/{template}", None,                     [401, 403, 200, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/templates/{draft}", body(json!({"name": "Renamed {unique}"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/templates/{draft}", None,                     [401, 403, 403, 403, 403, 401, 204]),
        (M::GET, "/api/v1/templates/{template}/versions", None,            [401, 403, 200, 403, 403, 401, 200]),
        (M::POST, "/api/v1/templates/{template}/versions", None,           [401, 403, 403, 403, 403, 401, 201]),
        (M::POST, "/api/v1/templates/{draft}/publish", None,               [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/templates/{template}/unpublish", None,          [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/templates/{template}/disable", None,            [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/requests", None,                                 [401, 403, 200, 403, 403, 401, 200]),
        (M::POST, "/api/v1/requests", body(json!("{reqbody}")),            [401, 403, 201, 403, 403, 401, 201]),
        (M::GET, "/api/v1/requests/{request}", None,                       [401, 403, 404, 403, 403, 401, 200]),
        (M::PUT, "/api/v1/requests/{draftreq}", body(json!("{reqbody}")), [401, 403, 404, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/requests/{draftreq}", None,                   [401, 403, 404, 403, 403, 401, 204]),
        (M::POST, "/api/v1/requests/{draftreq}/submit", None,              [401, 403, 404, 403, 403, 401, 200]),
        (M::POST, "/api/v1/requests/{request}/withdraw", None,             [401, 403, 404, 403, 403, 401, 204]),
        // Only a retrying or failed request can be retried or abandoned: the fixture is neither.
        (M::POST, "/api/v1/requests/{request}/retry", None,                [401, 403, 404, 403, 403, 401, 409]),
        (M::POST, "/api/v1/requests/{request}/abandon", None,              [401, 403, 404, 403, 403, 401, 409]),
        (M::GET, "/api/v1/approvals", None,                                [401, 403, 403, 200, 403, 401, 200]),
        // Only an approver of the current step decides; the administrator sees it but is not one.
        (M::POST, "/api/v1/approvals/{request}/approve", body(json!({})), [401, 403, 403, 404, 403, 401, 409]),
        (M::POST, "/api/v1/approvals/{request}/deny", body(json!({"reason": "no"})),
                                                                           [401, 403, 403, 404, 403, 401, 409]),
        (M::GET, "/api/v1/accounts", None,                                 [401, 200, 200, 200, 200, 401, 200]),
        // Owned by the fixture user, whom none of the principals is.
        (M::GET, "/api/v1/accounts/{account}", None,                       [401, 404, 404, 404, 404, 401, 200]),
        (M::GET, "/api/v1/accounts/{account}/history", None,               [401, 404, 404, 404, 404, 401, 200]),
        (M::GET, "/api/v1/accounts/{account}/dependencies", None,          [401, 404, 404, 404, 404, 401, 200]),
        (M::POST, "/api/v1/accounts/{account}/actions/{action}", body(json!({})),
                                                                           [401, 404, 404, 404, 404, 401, 200]),
        // A clone needs `request:create` as well as reaching the account.
        (M::POST, "/api/v1/accounts/{account}/actions/clone", body(json!({"account_name": "cl{unique}", "justification": "matrix"})),
                                                                           [401, 403, 404, 403, 403, 401, 201]),
        // The fixture account is at its EOL, which a migration refuses: 422 past authorisation.
        (M::POST, "/api/v1/accounts/migrate", body(json!({"account_ids": ["{account}"], "template_id": "{template}"})),
                                                                           [401, 403, 403, 403, 403, 401, 422]),
        // The fixture domain was never synced: no object to import, 422 past authorisation.
        (M::POST, "/api/v1/domains/{domain}/import", body(json!({"object_guids": ["{entry}"], "template_id": "{template}", "interval": "1y", "owners": {"users": ["{user}"]}})),
                                                                           [401, 403, 403, 403, 403, 401, 422]),
        // Discovery runs and their accounts: managed-account update/read with manage, as for an
        // import. Everyone holds the non-manage rights (Account Owner), so the others get 403;
        // the base DN names no alm domain: 422 past authorisation.
        (M::POST, "/api/v1/discovery/runs", body(json!({"domain": {"fqdn": "nowhere.test", "base_dn": "DC=nowhere,DC=test"},
                                                         "scanned_at": "2026-11-29T09:00:00Z", "tool_version": "test",
                                                         "host_scan_complete": true, "accounts": []})),
                                                                           [401, 403, 403, 403, 403, 401, 422]),
        (M::GET, "/api/v1/discovery/accounts", None,                       [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/scheduler/sweep", None,                         [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/accounts/{account}/owners", body(json!({"user_id": "{other}"})),
                                                                           [401, 404, 404, 404, 404, 401, 200]),
        (M::DELETE, "/api/v1/accounts/{account}/owners/user/{user}", None, [401, 404, 404, 404, 404, 401, 200]),
        (M::GET, "/api/v1/email-templates", None,                          [401, 403, 403, 403, 403, 401, 200]),
        (M::PUT, "/api/v1/email-templates/{event}", body(json!({"enabled": true})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/email-templates/{event}/preview", body(json!({})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/outbox", None,                                   [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/webhooks", None,                                 [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/webhooks", body(json!({"event": "request.approved", "url": "http://127.0.0.1:1/hook",
                                                  "body_template": "{\"id\": \"{{request.id}}\"}", "signing_secret": "s3cret-s3cret-s3cret"})),
                                                                           [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/webhooks/{webhook}", None,                       [401, 403, 403, 403, 403, 401, 200]),
        (M::PUT, "/api/v1/webhooks/{webhook}", body(json!({"event": "request.approved", "url": "http://127.0.0.1:1/other",
                                                           "body_template": "{}"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/webhooks/{webhook}/test", None,                 [401, 403, 403, 403, 403, 401, 200]),
        (M::GET, "/api/v1/webhooks/{webhook}/deliveries", None,            [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/webhooks/{webhook}", None,                    [401, 403, 403, 403, 403, 401, 204]),
        (M::GET, "/api/v1/siem-integrations", None,                        [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/siem-integrations", body(json!({"name": "S {unique}", "server": "127.0.0.1", "port": 1,
                                                           "protocol": "udp", "format": "rfc5424"})),
                                                                           [401, 403, 403, 403, 403, 401, 201]),
        (M::GET, "/api/v1/siem-integrations/{siem}", None,                 [401, 403, 403, 403, 403, 401, 200]),
        (M::PATCH, "/api/v1/siem-integrations/{siem}", body(json!({"format": "cef"})),
                                                                           [401, 403, 403, 403, 403, 401, 200]),
        (M::POST, "/api/v1/siem-integrations/{siem}/test", None,           [401, 403, 403, 403, 403, 401, 200]),
        (M::DELETE, "/api/v1/siem-integrations/{siem}", None,              [401, 403, 403, 403, 403, 401, 204]),
        // Everyone has an inbox of their own; nobody reads another's entry.
        (M::GET, "/api/v1/inbox", None,                                    [401, 200, 200, 200, 200, 401, 200]),
        (M::POST, "/api/v1/inbox/{entry}/read", None,                      [401, 404, 404, 404, 404, 401, 404]),
        (M::POST, "/api/v1/inbox/read-all", None,                          [401, 200, 200, 200, 200, 401, 200]),
        // The engine protocol takes engine credentials and activation tokens, never a person's.
        (M::POST, "/api/v1/engine/register", body(json!({"activation_token": "alma_unknown", "name": "e", "host": "h", "version": "1"})),
                                                                           [401, 401, 401, 401, 401, 401, 401]),
        (M::POST, "/api/v1/engine/lease", body(json!({"wait_seconds": 0, "max_jobs": 1})),
                                                                           [401, 401, 401, 401, 401, 401, 401]),
        (M::POST, "/api/v1/engine/heartbeat", body(json!({"job_ids": []})),
                                                                           [401, 401, 401, 401, 401, 401, 401]),
        (M::POST, "/api/v1/engine/logs", body(json!({"lines": []})),       [401, 401, 401, 401, 401, 401, 401]),
        (M::GET, "/api/v1/engine/check-targets", None,                      [401, 401, 401, 401, 401, 401, 401]),
        (M::POST, "/api/v1/engine/jobs/{job}/complete", body(json!({"outcome": "failed", "lease_id": "x", "error": "e"})),
                                                                           [401, 401, 401, 401, 401, 401, 401]),
    ]
}

/// Fresh objects for one row: a user, a group and a custom role, the user a member of both,
/// and an API token of the user.
pub(crate) async fn fixtures(s: &TestServer, n: usize) -> Vec<(&'static str, String)> {
    let admin = s.admin();
    let (user, _) = s
        .user_with_token(&format!("Target {n}"), &format!("target{n}@example.test"))
        .await;
    let (_, group) = admin
        .post(
            "/api/v1/groups",
            json!({"name": format!("Fixture group {n}")}),
        )
        .await;
    let (_, role) = admin
        .post(
            "/api/v1/roles",
            json!({"name": format!("Fixture role {n}")}),
        )
        .await;
    let (group, role) = (
        group["id"].as_str().unwrap().to_owned(),
        role["id"].as_str().unwrap().to_owned(),
    );
    admin
        .post(
            &format!("/api/v1/groups/{group}/members"),
            json!({"user_id": user}),
        )
        .await;
    admin
        .post(
            &format!("/api/v1/roles/{role}/members"),
            json!({"user_id": user}),
        )
        .await;
    // A second group with the same member: the replacement for the first in templates.
    let (_, group2) = admin
        .post(
            "/api/v1/groups",
            json!({"name": format!("Fixture group {n} bis")}),
        )
        .await;
    let group2 = group2["id"].as_str().unwrap().to_owned();
    admin
        .post(
            &format!("/api/v1/groups/{group2}/members"),
            json!({"user_id": user}),
        )
        .await;
    let (_, tokens) = admin
        .get(&format!("/api/v1/api-tokens?user_id={user}"))
        .await;
    let token = tokens["items"][0]["id"].as_str().unwrap().to_owned();
    // A domain nobody answers for (nothing listens on port 1): its check reports, never hangs.
    let (_, domain) = admin
        .post(
            "/api/v1/domains",
            json!({"name": format!("Fixture domain {n}"), "url": "ldaps://127.0.0.1:1", "bind_identity": "svc@corp.example.test",
                   "bind_password": "x", "base_dn": "DC=corp,DC=example,DC=test"}),
        )
        .await;
    let domain = domain["id"].as_str().unwrap().to_owned();
    let (_, vault) = admin
        .post(
            "/api/v1/vaults",
            json!({"name": format!("Fixture vault {n}"), "kind": "openbao", "address": "http://127.0.0.1:1", "credential": "x"}),
        )
        .await;
    let vault = vault["id"].as_str().unwrap().to_owned();
    let (_, pool) = admin
        .post(
            "/api/v1/engine-pools",
            json!({"name": format!("Fixture pool {n}")}),
        )
        .await;
    let pool = pool["id"].as_str().unwrap().to_owned();
    let (_, activation) = admin.post_empty("/api/v1/engine-activation-tokens").await;
    let (st, engine) = s
        .anonymous()
        .post(
            "/api/v1/engine/register",
            json!({"activation_token": activation["token"], "name": format!("fixture {n}"), "host": "fixture.example.test", "version": "test"}),
        )
        .await;
    assert_eq!(st, 201, "{engine}");
    let engine = engine["engine_id"].as_str().unwrap().to_owned();
    // A finished job: the sync of the unreachable domain (it fails, and is recorded).
    admin
        .post_empty(&format!("/api/v1/domains/{domain}/sync"))
        .await;
    let (_, jobs) = admin.get("/api/v1/jobs?limit=1").await;
    let job = jobs["items"][0]["id"].as_str().unwrap().to_owned();
    // The fixture domain is never reachable: its one OU is written as a sync would.
    let ou = format!("OU=Fixture {n},DC=corp,DC=example,DC=test");
    {
        let state = s.state();
        let mut tx = state.db.begin_write().await.unwrap();
        alm_store::directory_sync::store(
            &mut tx,
            domain.parse().unwrap(),
            &alm_store::directory_sync::DirectoryObject {
                guid: uuid::Uuid::new_v4().to_string(),
                kind: "ou".into(),
                dn: ou.clone(),
                name: format!("Fixture {n}"),
                enabled: true,
                usn_changed: 1,
                details: "{}".into(),
                synced_at: alm_core::Clock::now(s.clock.as_ref()),
            },
            false,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let (_, everyone) = admin.get("/api/v1/groups?limit=500").await;
    let everyone = everyone["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["builtin"] == true && g["name"] == "Everyone")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let definition = json!({
        "account_type": "ad-user", "eol_action": "disable", "vault_id": vault, "folders": ["svc"],
        "domain_id": domain, "ous": [ou], "audience_groups": [everyone],
        "lifecycle": {"intervals": ["1y"]}, "steps": [{"groups": [group], "min_approvals": 1}],
    });
    let (st, template) = admin
        .post(
            "/api/v1/templates",
            json!({"name": format!("Fixture template {n}"), "definition": definition}),
        )
        .await;
    assert_eq!(st, 201, "{template}");
    let template = template["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post_empty(&format!("/api/v1/templates/{template}/publish"))
            .await
            .0,
        200
    );
    let (_, draft) = admin
        .post(
            "/api/v1/templates",
            json!({"name": format!("Fixture draft {n}"), "definition": definition}),
        )
        .await;
    let draft = draft["id"].as_str().unwrap().to_owned();
    // Requests by the administrator: one waiting for approval, one draft.
    let reqbody = |name: String| json!({"template_id": template, "account_name": name, "interval": "1y", "justification": "fixture"});
    let (st, request) = admin
        .post("/api/v1/requests", reqbody(format!("pend{n}")))
        .await;
    assert_eq!(st, 201, "{request}");
    let request = request["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post_empty(&format!("/api/v1/requests/{request}/submit"))
            .await
            .0,
        200
    );
    let (_, draftreq) = admin
        .post("/api/v1/requests", reqbody(format!("draft{n}")))
        .await;
    let draftreq = draftreq["id"].as_str().unwrap().to_owned();
    // A managed account owned by the fixture user and a keeper (written as provisioning
    // would), so the fixture user may be disabled or removed without orphaning it.
    let (keeper, _) = s
        .user_with_token(&format!("Keeper {n}"), &format!("keeper{n}@example.test"))
        .await;
    let account = uuid::Uuid::new_v4();
    {
        let state = s.state();
        let now = alm_core::Clock::now(s.clock.as_ref());
        let mut tx = state.db.begin_write().await.unwrap();
        alm_store::accounts::insert(
            &mut tx,
            &alm_store::accounts::AccountRecord {
                id: account,
                domain_id: domain.parse().unwrap(),
                name: format!("fixture{n}"),
                dn: format!("CN=fixture{n},{ou}"),
                guid: uuid::Uuid::new_v4().to_string(),
                account_type: alm_core::templates::AccountType::AdUser,
                description: String::new(),
                status: alm_core::lifecycle::Status::Active,
                template_id: template.parse().unwrap(),
                template_version: 1,
                request_id: None,
                interval: "1y".parse().unwrap(),
                eol_action: alm_core::templates::EolAction::Disable,
                lifecycle_start: now,
                eol_at: now,
                vault_id: vault.parse().unwrap(),
                secret_ref: format!("svc/fixture{n}"),
                directory_state: alm_core::account_state::DirectoryState::Present,
                secret_state: alm_core::account_state::SecretState::Present,
                created_at: now,
                updated_at: now,
                status_before: None,
                problem: None,
            },
        )
        .await
        .unwrap();
        for owner in [&user, &keeper] {
            alm_store::accounts::add_owner(
                &mut tx,
                account,
                alm_store::accounts::Owner::User(owner.parse().unwrap()),
                now,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let (other, _) = s
        .user_with_token(&format!("Other {n}"), &format!("other{n}@example.test"))
        .await;
    // A webhook to a port nothing listens on (its test call reports the failure) and a SIEM
    // integration over UDP (a datagram to nowhere still leaves).
    let (st, webhook) = admin
        .post(
            "/api/v1/webhooks",
            json!({"event": "request.approved", "url": "http://127.0.0.1:1/hook", "body_template": "{}",
                   "signing_secret": "fixture-signing-secret"}),
        )
        .await;
    assert_eq!(st, 201, "{webhook}");
    let webhook = webhook["id"].as_str().unwrap().to_owned();
    let (st, siem) = admin
        .post(
            "/api/v1/siem-integrations",
            json!({"name": format!("Fixture SIEM {n}"), "server": "127.0.0.1", "port": 1, "protocol": "udp", "format": "json-lines"}),
        )
        .await;
    assert_eq!(st, 201, "{siem}");
    let siem = siem["id"].as_str().unwrap().to_owned();
    // Its own role: the fixture role is deleted by a row of the table, and a role a client
    // acts with cannot be.
    let (_, client_role) = admin
        .post(
            "/api/v1/roles",
            json!({"name": format!("Fixture client role {n}")}),
        )
        .await;
    let (st, client) = admin
        .post(
            "/api/v1/api-clients",
            json!({"name": format!("Fixture client {n}"), "role_id": client_role["id"]}),
        )
        .await;
    assert_eq!(st, 201, "{client}");
    let client = client["id"].as_str().unwrap().to_owned();
    vec![
        ("{client}", client),
        ("{event}", "request.approved".to_string()),
        ("{webhook}", webhook),
        ("{siem}", siem),
        // The fixture account is an active `disable` account at its EOL: renew is offered.
        ("{action}", "renew".to_string()),
        ("{entry}", uuid::Uuid::new_v4().to_string()),
        ("{account}", account.to_string()),
        ("{other}", other),
        ("\"{reqbody}\"", reqbody("r{unique}".into()).to_string()),
        ("{request}", request),
        ("{draftreq}", draftreq),
        ("\"{definition}\"", definition.to_string()),
        ("{template}", template),
        ("{draft}", draft),
        ("{pool}", pool),
        ("{engine}", engine),
        ("{job}", job),
        ("{user}", user.clone()),
        ("{member}", user),
        ("{group2}", group2),
        ("{group}", group),
        ("{role}", role),
        ("{token}", token),
        ("{domain}", domain),
        ("{vault}", vault),
    ]
}

/// A table row's path as the OpenAPI document writes it (the fixtures' placeholders named
/// as the routes name their parameters).
pub(crate) fn documented_path(path: &str) -> String {
    path.replace("{member}", "{user_id}")
        .replace("{user}", "{id}")
        .replace("{group}", "{id}")
        .replace("{role}", "{id}")
        .replace("{token}", "{id}")
        .replace("{client}", "{id}")
        .replace("{domain}", "{id}")
        .replace("{vault}", "{id}")
        .replace("{pool}", "{id}")
        .replace("{engine}", "{id}")
        .replace("{job}", "{id}")
        .replace("{template}", "{id}")
        .replace("{draft}", "{id}")
        .replace("{request}", "{id}")
        .replace("{draftreq}", "{id}")
        .replace("{account}", "{id}")
        .replace("{entry}", "{id}")
        .replace("{webhook}", "{id}")
        .replace("{siem}", "{id}")
        // The owner route names its user as {owner_id}.
        .replace("/owners/user/{id}", "/owners/{kind}/{owner_id}")
}

pub(crate) fn fill(text: &str, values: &[(&str, String)], unique: &str) -> String {
    let mut out = text.replace("{unique}", unique);
    for (k, v) in values {
        out = out.replace(k, v);
    }
    out
}

on_both_backends! {
    async fn every_route_gives_each_principal_the_specified_status(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let mut apis: Vec<Api> = Vec::new();
        for who in PRINCIPALS {
            let api = match who {
                "anonymous" => s.anonymous(),
                "admin" => admin.clone(),
                other => {
                    let (id, token) = s.user_with_token(other, &format!("{other}@example.test")).await;
                    let role = match other {
                        "requester" => Some(s.role_id("requester").await),
                        "approver" => Some(s.role_id("approver").await),
                        "disabled" => Some(s.role_id("system-administrator").await),
                        "auditor" => {
                            let (_, r) = admin.post("/api/v1/roles", json!({"name": "Auditor", "permissions": ["audit:read"]})).await;
                            Some(r["id"].as_str().unwrap().to_owned())
                        }
                        _ => None,
                    };
                    if let Some(role) = role {
                        assert_eq!(admin.post(&format!("/api/v1/roles/{role}/members"), json!({"user_id": id})).await.0, 204);
                    }
                    if other == "disabled" {
                        assert_eq!(admin.post_empty(&format!("/api/v1/users/{id}/disable")).await.0, 200);
                    }
                    Api::with_token(&s.base, &token)
                }
            };
            apis.push(api);
        }

        // The table covers exactly the routes the OpenAPI document lists.
        let (_, doc) = s.anonymous().get("/api/v1/openapi.json").await;
        let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let rows = table();
        let mut covered: BTreeSet<(String, String)> =
            rows.iter().map(|(m, p, _, _)| (m.to_string(), documented_path(p))).collect();
        covered.remove(&("GET".into(), "/api/v1/openapi.json".into()));
        assert_eq!(covered, documented, "the matrix must list every documented route, and only those");

        let mut failures = Vec::new();
        for (n, (method, path, body, expected)) in rows.into_iter().enumerate() {
            let values = fixtures(&s, n).await;
            for (i, api) in apis.iter().enumerate() {
                let unique = format!("u{n}x{i}");
                let url = fill(path, &values, &unique);
                let payload = body.as_ref().map(|b| serde_json::from_str(&fill(&b.to_string(), &values, &unique)).unwrap());
                let (status, answer) = api.send(method.clone(), &url, payload).await;
                if status != expected[i] {
                    failures.push(format!("{method} {path} as {}: expected {}, got {status} {answer}", PRINCIPALS[i], expected[i]));
                }
            }
        }
        assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
        s.stop().await;
    }
}
